//! Time zones, for profiles: which names are real (the IANA database compiled in through
//! `chrono-tz`, so the answer does not depend on the host), the list a profile form offers,
//! and what the time is in one, so a profile card can say "14:32 local time" without the
//! browser shipping the database.

use chrono::TimeZone;

/// `raw` as a known IANA time zone name, spelt canonically; empty means none.
pub fn parse(raw: &str) -> Result<Option<String>, crate::error::AppError> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > crate::validate::MAX_TIME_ZONE_CHARS {
        return Err(unknown(name));
    }
    name.parse::<chrono_tz::Tz>()
        .map(|tz| Some(tz.name().to_owned()))
        .map_err(|_| unknown(name))
}

fn unknown(name: &str) -> crate::error::AppError {
    crate::error::AppError::BadRequest(format!(
        "{name:?} is not a time zone this server knows. Pick one from the list, such as \
         Europe/Paris."
    ))
}

/// Every zone a person can pick, by name: the canonical `Area/City` zones.
pub fn names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| name.contains('/') && !name.starts_with("Etc/"))
        .collect()
}

/// The wall-clock time (`14:32`) in `zone` at `at_ms` (UTC ms), and that zone's offset from
/// UTC (`UTC+01:00`); `None` for a name the database does not know.
pub fn local_time(zone: &str, at_ms: i64) -> Option<(String, String)> {
    let tz = zone.parse::<chrono_tz::Tz>().ok()?;
    let at = tz.timestamp_millis_opt(at_ms).single()?;
    Some((
        at.format("%H:%M").to_string(),
        at.format("UTC%:z").to_string(),
    ))
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_known_names_only() {
        assert_eq!(
            parse(" Europe/Paris ").unwrap().as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(parse("").unwrap(), None);
        assert!(parse("Mars/Olympus_Mons").is_err());
        assert!(parse(&"A/".repeat(40)).is_err());
        assert!(names().contains(&"Asia/Seoul"));
        assert!(!names().iter().any(|n| n.starts_with("Etc/")));
    }

    #[test]
    fn local_time_follows_the_zone() {
        // 2026-01-15 12:00 UTC.
        let noon = 1_768_478_400_000;
        assert_eq!(
            local_time("Asia/Seoul", noon),
            Some(("21:00".into(), "UTC+09:00".into()))
        );
        assert_eq!(
            local_time("America/New_York", noon),
            Some(("07:00".into(), "UTC-05:00".into()))
        );
        assert_eq!(local_time("Nowhere", noon), None);
    }
}
