//! Slash commands typed in the message box: `/me`, `/shrug`, `/topic`, `/invite`, `/leave` and
//! `/mute`. Read here once, for the browser (which lists them as `/` is typed, and runs the ones
//! that are not messages) and the server (whose one write path turns `/shrug` into its message
//! and refuses to store the others as text). A `/` followed by anything else is an ordinary
//! message, so "/etc/hosts is wrong" posts as written. A room may have commands of its own: its
//! outgoing webhooks' trigger words that start with `/` (`crate::outgoing`); a message starting
//! with one is posted as written and calls the hook, and the box lists them with these.

use crate::error::AppError;

/// One command as the message box lists it: its name, what follows it, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub does: &'static str,
}

/// Every command, in the order they are listed.
pub const COMMANDS: [Command; 6] = [
    Command {
        name: "me",
        args: "action",
        does: "say what you are doing, in italics",
    },
    Command {
        name: "shrug",
        args: "message",
        does: "add ¯\\_(ツ)_/¯",
    },
    Command {
        name: "topic",
        args: "text",
        does: "set the room's topic",
    },
    Command {
        name: "invite",
        args: "@name",
        does: "add someone to the room",
    },
    Command {
        name: "leave",
        args: "",
        does: "leave the room",
    },
    Command {
        name: "mute",
        args: "",
        does: "mute or unmute the room's notifications",
    },
];

/// A command as typed, its arguments trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slash<'a> {
    /// A message in italics: "alice waves" (the text is stored as typed, `/me` and all).
    Me(&'a str),
    /// A message with ¯\_(ツ)_/¯ after it.
    Shrug(&'a str),
    Topic(&'a str),
    /// A username, its `@` dropped.
    Invite(&'a str),
    Leave,
    Mute,
}

impl Slash<'_> {
    /// Whether the command is a message (posted like one, through the outbox) rather than an
    /// action on the room.
    pub fn is_message(&self) -> bool {
        matches!(self, Slash::Me(_) | Slash::Shrug(_))
    }
}

/// The command `text` is, if it starts with one: `None` for an ordinary message. A known
/// command with arguments it does not take is refused, saying how it is used.
pub fn parse(text: &str) -> Option<Result<Slash<'_>, AppError>> {
    let rest = text.trim_start().strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (name, args) = rest.split_at(end);
    let command = COMMANDS.iter().find(|c| c.name == name)?;
    let args = args.trim();
    let usage = || {
        AppError::BadRequest(format!(
            "Use it as /{} {}: {}.",
            command.name, command.args, command.does
        ))
    };
    Some(match name {
        "me" if !args.is_empty() => Ok(Slash::Me(args)),
        "shrug" => Ok(Slash::Shrug(args)),
        "topic" => Ok(Slash::Topic(args)),
        "invite" => match args.strip_prefix('@').unwrap_or(args) {
            name if !name.is_empty() && !name.contains(char::is_whitespace) => {
                Ok(Slash::Invite(name))
            }
            _ => Err(usage()),
        },
        "leave" if args.is_empty() => Ok(Slash::Leave),
        "mute" if args.is_empty() => Ok(Slash::Mute),
        _ => Err(usage()),
    })
}

/// The shrug, written so Markdown shows it as it is.
const SHRUG: &str = "¯\\\\\\_(ツ)\\_/¯";

/// The message `/shrug text` posts: the text, then the shrug.
pub fn shrugged(text: &str) -> String {
    if text.is_empty() {
        SHRUG.to_owned()
    } else {
        format!("{text} {SHRUG}")
    }
}

/// What follows `/me ` in a message that is an action (`None` for any other message).
pub fn action(text: &str) -> Option<&str> {
    match parse(text) {
        Some(Ok(Slash::Me(action))) => Some(action),
        _ => None,
    }
}

/// The commands whose names start with `partial` (what follows the `/` at the start of the
/// box), for the list the box offers.
pub fn offered(partial: &str) -> impl Iterator<Item = &'static Command> + '_ {
    COMMANDS.iter().filter(move |c| c.name.starts_with(partial))
}

/// The `/partial` being typed at the start of the box, before the caret (`before`): the part
/// after the `/`, while no space follows it.
pub fn typing(before: &str) -> Option<&str> {
    let partial = before.strip_prefix('/')?;
    (!partial.contains(char::is_whitespace)).then_some(partial)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn commands_read_with_their_arguments_and_other_slashes_are_messages() {
        assert_eq!(parse("/me waves").unwrap().unwrap(), Slash::Me("waves"));
        assert_eq!(
            parse("  /shrug  ok then ").unwrap().unwrap(),
            Slash::Shrug("ok then")
        );
        assert_eq!(parse("/shrug").unwrap().unwrap(), Slash::Shrug(""));
        assert_eq!(
            parse("/topic Q3 planning").unwrap().unwrap(),
            Slash::Topic("Q3 planning")
        );
        assert_eq!(parse("/topic").unwrap().unwrap(), Slash::Topic(""));
        assert_eq!(
            parse("/invite @bob").unwrap().unwrap(),
            Slash::Invite("bob")
        );
        assert_eq!(parse("/invite bob").unwrap().unwrap(), Slash::Invite("bob"));
        assert_eq!(parse("/leave").unwrap().unwrap(), Slash::Leave);
        assert_eq!(parse("/mute\n").unwrap().unwrap(), Slash::Mute);
        for bad in [
            "/me",
            "/me   ",
            "/invite",
            "/invite bob carol",
            "/leave now",
            "/mute x",
        ] {
            assert!(
                matches!(parse(bad), Some(Err(AppError::BadRequest(_)))),
                "{bad}"
            );
        }
        for message in [
            "/etc/hosts is wrong",
            "/meet at 5",
            "hello /me",
            "/",
            "//me x",
            "/Me x",
        ] {
            assert!(parse(message).is_none(), "{message}");
        }
        assert!(!Slash::Leave.is_message());
        assert!(Slash::Me("x").is_message());
    }

    #[test]
    fn the_shrug_survives_markdown_and_actions_are_found() {
        assert_eq!(shrugged(""), "¯\\\\\\_(ツ)\\_/¯");
        assert_eq!(shrugged("fine"), "fine ¯\\\\\\_(ツ)\\_/¯");
        assert_eq!(action("/me waves"), Some("waves"));
        assert_eq!(action("waves"), None);
        assert_eq!(action("/shrug"), None);
    }

    #[test]
    fn the_list_follows_what_is_typed() {
        let names = |p| offered(p).map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names("m"), vec!["me", "mute"]);
        assert_eq!(names("").len(), COMMANDS.len());
        assert!(names("x").is_empty());
        assert_eq!(typing("/sh"), Some("sh"));
        assert_eq!(typing("/"), Some(""));
        assert_eq!(typing("/shrug "), None);
        assert_eq!(typing("hi /sh"), None);
    }
}
