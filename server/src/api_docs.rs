//! The HTTP API's description, so programs and people read the same one: the OpenAPI 3.1
//! document generated from the handlers' `#[utoipa::path]`s and the types they answer
//! (`/api/v1/openapi.json`), and a reference page rendered on the server from that document
//! (`/api/v1/docs`), readable without JavaScript. What every call may be refused with is added
//! here once, from `AppError`'s statuses, rather than repeated on each handler.

use crate::rest::{ApiError, ErrorBody};
use app::error::AppError;
use app::markdown::escape as esc;
use app::state::AppState;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header;
use serde_json::Value;
use std::fmt::Write as _;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; the routes add their paths (see `rest::router`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Confab API",
        version = "1",
        description = "Rooms, members, messages (post, edit, delete, react, pin, threads, \
            history, changes), files, search and profiles, for scripts, bots and other programs. \
            Send a personal access token as `Authorization: Bearer cfb_…` (made in the account \
            menu, or with `confab token create`): a read needs its `read` scope, anything else \
            its `write` scope. A browser's session cookie works too. Every error is \
            `{\"error\": {\"code\", \"message\"}}` with a stable code.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    servers((url = "/api/v1", description = "This server")),
    components(schemas(ErrorBody)),
    modifiers(&Credentials),
    security(("token" = []), ("session" = [])),
    tags(
        (name = "account", description = "Who is calling, and who people are"),
        (name = "rooms", description = "Rooms and their members"),
        (name = "messages", description = "A room's messages and threads"),
        (name = "files", description = "Sending and fetching a message's files"),
        (name = "search", description = "Finding messages"),
    )
)]
pub struct ApiDoc;

/// The two ways to say who calls.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal access token, `cfb_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                app::auth::SESSION_COOKIE,
                "A browser's session (named `__Host-confab_session` over HTTPS); its writes \
                 must come from this site",
            ))),
        );
    }
}

/// The refusals any call may meet, with the statuses `AppError` answers them with. `input`:
/// only calls that take parameters or a body can be malformed; `body`: only those with a body
/// can be too large or conflict with what is stored.
fn refusals(input: bool, body: bool) -> Vec<(&'static str, &'static str)> {
    let mut list = Vec::new();
    if input {
        list.push(("400", "The parameters or the body were not understood"));
    }
    list.extend([
        (
            "401",
            "No valid token or session (an expired or revoked token included)",
        ),
        (
            "403",
            "The token lacks the scope, or the caller the right, to do this",
        ),
        (
            "404",
            "No such room, message or person, or none the caller may see",
        ),
    ]);
    if body {
        list.extend([
            ("409", "It conflicts with what is stored"),
            (
                "413",
                "The body or the text is larger than this server accepts",
            ),
        ]);
    }
    list.extend([
        (
            "429",
            "Too many calls: try again after `Retry-After` seconds",
        ),
        (
            "503",
            "The server cannot take it right now: try again shortly",
        ),
    ]);
    list
}

/// Adds each operation's refusals, all answered as an [`ErrorBody`].
fn add_refusals(api: &mut utoipa::openapi::OpenApi) {
    for item in api.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let body = operation.request_body.is_some();
            let input = body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            for (status, description) in refusals(input, body) {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build();
                let mut response = ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content);
                if status == "429" {
                    let seconds = utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer)
                        .build();
                    let mut retry = Header::new(seconds);
                    retry.description = Some("Seconds to wait".into());
                    response = response.header("Retry-After", retry);
                }
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| response.build().into());
            }
        }
    }
}

/// A path's operations, whatever their method.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.patch,
        &mut item.put,
        &mut item.delete,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The finished document, served as JSON and as the reference page, each written once at
/// start-up and handed out as the same bytes.
pub fn published(mut api: utoipa::openapi::OpenApi) -> Router<AppState> {
    add_refusals(&mut api);
    let written = serde_json::to_value(&api)
        .and_then(|doc| Ok((serde_json::to_vec_pretty(&doc)?, reference_page(&doc))));
    let (json, page) = match written {
        Ok((json, page)) => (Bytes::from(json), Bytes::from(page)),
        Err(error) => {
            tracing::error!(%error, "the OpenAPI document could not be written");
            (Bytes::new(), Bytes::new())
        }
    };
    Router::new()
        .route(
            "/openapi.json",
            get(move || std::future::ready(document(json.clone(), "application/json"))),
        )
        .route(
            "/docs",
            get(move || std::future::ready(document(page.clone(), "text/html; charset=utf-8"))),
        )
        .route(
            "/docs.css",
            get(|| async {
                document(
                    Bytes::from_static(STYLE.as_bytes()),
                    "text/css; charset=utf-8",
                )
            }),
        )
}

/// One of the written documents, or a typed error where it could not be written.
fn document(bytes: Bytes, content_type: &'static str) -> Response {
    if bytes.is_empty() {
        return ApiError(AppError::Internal).into_response();
    }
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

/// The reference page's look: readable on a phone (a table's rows become stacked fields
/// there, each named by its column), light or dark as the system is, with no script.
const STYLE: &str = concat!(
    "body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;",
    "color:#1d1d1f;background:#fff}h1,h2,h3{line-height:1.2}",
    "code{font:.9em ui-monospace,monospace;background:#f3f3f5;border-radius:4px;",
    "padding:0 .25em;overflow-wrap:anywhere}section{border-top:1px solid #ddd;margin-top:1.5rem}",
    "table{border-collapse:collapse;width:100%;margin:.5rem 0}caption{text-align:left;",
    "font-weight:600}th,td{text-align:left;vertical-align:top;padding:.25rem .5rem;",
    "border-bottom:1px solid #eee}.method{font-weight:700;color:#0b57d0}",
    "nav ul{padding-left:1.2rem}",
    "@media (max-width:640px){table,tbody,tr,td{display:block}tr:first-child{display:none}",
    "tr{padding:.5rem 0;border-bottom:1px solid #ddd}td{border:0;padding:0 .25rem}",
    "td::before{content:attr(data-label) \": \";font-weight:600}}",
    "@media (prefers-color-scheme:dark){body{background:#17181a;color:#e8e8ea}",
    "code{background:#26282b}.method{color:#8ab4f8}th,td,tr,section{border-color:#333}",
    "a{color:#8ab4f8}}",
);

/// Text of the document's descriptions, with its `code` spans shown as code (and the
/// brackets of the code's own doc links dropped).
fn prose(text: &str) -> String {
    esc(&text.replace("[`", "`").replace("`]", "`"))
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// A schema's type as a reader wants it: `Message`, `array of Reaction`, `integer or null`,
/// with named schemas linked to their section.
fn type_of(schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[key].as_array() {
            let kinds: Vec<String> = options.iter().map(type_of).collect();
            return kinds.join(" or ");
        }
    }
    let kinds: Vec<String> = match &schema["type"] {
        Value::String(kind) => vec![kind.clone()],
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => vec![],
    };
    let shown: Vec<String> = kinds
        .iter()
        .map(|kind| match kind.as_str() {
            "array" => format!("array of {}", type_of(&schema["items"])),
            other => esc(other),
        })
        .collect();
    let mut out = if shown.is_empty() {
        "any".to_string()
    } else {
        shown.join(" or ")
    };
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&v.to_string())))
            .collect();
        let _ = write!(out, ": {}", values.join(", "));
    }
    out
}

/// The reference page: every call, then every schema, from the OpenAPI document.
fn reference_page(doc: &Value) -> String {
    let info = &doc["info"];
    let title = esc(info["title"].as_str().unwrap_or("API"));
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{title}</h1><p>{}</p><p>Base URL: <code>/api/v1</code>. The same description for \
         programs: <a href=\"openapi.json\">openapi.json</a> (OpenAPI {}).</p>",
        prose(info["description"].as_str().unwrap_or("")),
        esc(doc["openapi"].as_str().unwrap_or("")),
    );
    let mut calls = String::new();
    let mut index = String::from("<nav aria-label=\"Calls\"><h2>Calls</h2><ul>");
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "patch", "put", "delete"] {
                let operation = &item[method];
                if operation.is_null() {
                    continue;
                }
                let anchor = format!("{method}{}", path.replace(['/', '{', '}'], "-"));
                let summary = esc(operation["summary"].as_str().unwrap_or(""));
                let method = method.to_uppercase();
                let _ = write!(
                    index,
                    "<li><a href=\"#{anchor}\"><span class=\"method\">{method}</span> \
                     <code>{}</code></a> {summary}</li>",
                    esc(path)
                );
                calls.push_str(&operation_section(&anchor, &method, path, operation));
            }
        }
    }
    index.push_str("</ul></nav>");
    body.push_str(&index);
    body.push_str(&calls);
    body.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            body.push_str(&schema_section(name, schema));
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"docs.css\">\
         <link rel=\"icon\" href=\"/icons/icon-192.png\" type=\"image/png\"></head>\
         <body><main>{body}</main></body></html>"
    )
}

/// One call: what it does, its parameters, its body and its answers.
fn operation_section(anchor: &str, method: &str, path: &str, operation: &Value) -> String {
    let mut out = format!(
        "<section id=\"{anchor}\"><h3><span class=\"method\">{method}</span> \
         <code>{}</code></h3><p>{}</p>",
        esc(path),
        esc(operation["summary"].as_str().unwrap_or(""))
    );
    if let Some(text) = operation["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", prose(text));
    }
    if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
        let rows = parameters.iter().map(|parameter| {
            let name = parameter["name"].as_str().unwrap_or("");
            let required = parameter["required"].as_bool() == Some(true);
            [
                format!("<code>{}</code>", esc(name)),
                esc(parameter["in"].as_str().unwrap_or("")),
                type_of(&parameter["schema"]),
                yes_no(required),
                prose(description(parameter)),
            ]
        });
        out.push_str(&table(
            "Parameters",
            ["Name", "In", "Type", "Required", "Description"],
            rows,
        ));
    }
    if let Some((media, content)) = first_content(&operation["requestBody"]) {
        let kind = if media == "application/json" {
            "JSON".to_string()
        } else {
            format!("<code>{}</code>", esc(media))
        };
        let _ = write!(out, "<p>Body ({kind}): {}</p>", type_of(&content["schema"]));
    }
    if let Some(responses) = operation["responses"].as_object() {
        let rows = responses.iter().map(|(status, response)| {
            let body = match first_content(response) {
                None => "none".to_string(),
                Some(("application/json", content)) => type_of(&content["schema"]),
                Some((media, _)) => format!("bytes (<code>{}</code>)", esc(media)),
            };
            [esc(status), prose(description(response)), body]
        });
        out.push_str(&table("Answers", ["Status", "Description", "Body"], rows));
    }
    out.push_str("</section>");
    out
}

/// A body's media type and its description (each call here has one kind of body).
fn first_content(item: &Value) -> Option<(&str, &Value)> {
    item["content"]
        .as_object()
        .and_then(|content| content.iter().next())
        .map(|(media, content)| (media.as_str(), content))
}

/// A table whose cells carry their column's name, for the stacked rows of a narrow screen.
fn table<const N: usize>(
    caption: &str,
    columns: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> String {
    let mut out = format!("<table><caption>{caption}</caption><tr>");
    for column in columns {
        let _ = write!(out, "<th>{column}</th>");
    }
    out.push_str("</tr>");
    for cells in rows {
        out.push_str("<tr>");
        for (column, cell) in columns.iter().zip(cells) {
            let _ = write!(out, "<td data-label=\"{column}\">{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.to_string()
}

/// What a parameter, answer or field says of itself: its own description, or that of the
/// named schema it stands for (a nullable field's lives beside its reference).
fn description(item: &Value) -> &str {
    item["description"]
        .as_str()
        .or_else(|| item["oneOf"][0]["description"].as_str())
        .unwrap_or("")
}

/// One schema: its description and its fields (for one of several shapes, each shape's).
fn schema_section(name: &str, schema: &Value) -> String {
    let name = esc(name);
    let mut out = format!("<section id=\"schema-{name}\"><h3>{name}</h3>");
    if let Some(text) = schema["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", prose(text));
    }
    let shapes: Vec<&Value> = match schema["oneOf"].as_array() {
        Some(shapes) if shapes.iter().all(|s| s["properties"].is_object()) => {
            out.push_str("<p>One of these shapes:</p>");
            shapes.iter().collect()
        }
        _ => vec![schema],
    };
    for shape in shapes {
        match shape["properties"].as_object() {
            Some(properties) => out.push_str(&fields_table(shape, properties, &shape_name(shape))),
            None => {
                let _ = write!(out, "<p>{}</p>", type_of(shape));
            }
        }
    }
    out.push_str("</section>");
    out
}

/// What tells one shape of several apart: "When `kind` is `renamed`" (the field that has one
/// fixed value), or just "Fields".
fn shape_name(shape: &Value) -> String {
    let tag = shape["properties"].as_object().and_then(|properties| {
        properties
            .iter()
            .find_map(|(field, property)| match property["enum"].as_array() {
                Some(values) if values.len() == 1 => Some((field, values[0].as_str()?)),
                _ => None,
            })
    });
    match tag {
        Some((field, value)) => format!(
            "When <code>{}</code> is <code>{}</code>",
            esc(field),
            esc(value)
        ),
        None => "Fields".to_string(),
    }
}

/// An object's fields: name, type, whether it is always there, and what it means.
fn fields_table(
    schema: &Value,
    properties: &serde_json::Map<String, Value>,
    caption: &str,
) -> String {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows = properties.iter().map(|(field, property)| {
        [
            format!("<code>{}</code>", esc(field)),
            type_of(property),
            yes_no(required.contains(&field.as_str())),
            prose(description(property)),
        ]
    });
    table(
        caption,
        ["Field", "Type", "Always there", "Description"],
        rows,
    )
}
