//! An update uploaded from the page (`POST /system/update`: a form with the file) or the
//! API (`PUT /api/update`: the file is the body), written into the slot that does not
//! run as it arrives and never held whole (`Backend::begin_update`).
//!
//! Everything that decides who may upload is checked on the request's head, before a
//! byte of the body is read: the gates of every request, a session (never the metrics
//! token) and, for the API, its X-CSRF-Token header. The page's form carries its CSRF
//! token in a field before the file; it is checked before the file's first byte goes
//! anywhere, and only then does the backend take the update lock.

use super::*;
use crate::backend::UpdateSink;
use crate::multipart::{Fields, Multipart};
use crate::server::BodySink;

pub(super) const PAGE_PATH: &str = "/system/update";
pub(super) const API_PATH: &str = "/api/update";
/// The page form's field that holds the file.
const FILE_FIELD: &str = "update";

impl App {
    /// The sink for an upload's body, or the answer that refuses it; `None`: the request
    /// is not an upload (its body is read whole and [`App::handle_at`] answers).
    pub(super) fn upload(
        &self,
        req: &Request,
        now: Instant,
    ) -> Option<Result<Box<dyn BodySink>, Response>> {
        let api = match (req.method(), req.path()) {
            (Method::Post, PAGE_PATH) => false,
            (Method::Put, API_PATH) => true,
            _ => return None,
        };
        Some(self.begin_upload(req, now, api))
    }

    fn begin_upload(
        &self,
        req: &Request,
        now: Instant,
        api: bool,
    ) -> Result<Box<dyn BodySink>, Response> {
        self.admit(req)?;
        let multipart = if api {
            if req.content_type() != "application/octet-stream" {
                return Err(api_error(
                    415,
                    "send the update file as application/octet-stream",
                ));
            }
            None
        } else {
            let content_type = req.header("content-type").unwrap_or("");
            let multipart = Multipart::new(content_type, FILE_FIELD)
                .map_err(|e| Response::text(415, format!("{e}\n")))?;
            Some(multipart)
        };
        if req.header("authorization").is_some() {
            let message =
                "an update needs a session (POST /api/login); the metrics token only reads";
            return Err(refusal(api, 403, message));
        }
        let Some(auth) = self.authenticate(req, now) else {
            return Err(if api {
                api_error(401, "log in first: POST /api/login")
            } else {
                Response::see_other("/login")
            });
        };
        let who = auth.who();
        let Some(multipart) = multipart else {
            guard::check_csrf(req, &auth, req.header("x-csrf-token").unwrap_or(""))?;
            let query = Form::parse(req.head.query.as_bytes())
                .map_err(|e| api_error(400, e.to_string()))?;
            let allow_downgrade =
                allows_downgrade(query.get("allow_downgrade")).map_err(|e| api_error(400, e))?;
            let sink = self.backend.begin_update(allow_downgrade).map_err(|e| {
                audited!(info, "web: {who}: an update upload was refused: {e}");
                api_error(409, e)
            })?;
            log::info!("web: {who} is uploading an update");
            return Ok(Box::new(ApiUpload { sink, who }));
        };
        Ok(Box::new(PageUpload {
            multipart,
            backend: self.backend.clone(),
            state: self.state.clone(),
            auth,
            who,
            sink: None,
        }))
    }
}

/// `allow_downgrade` as a form or query sends it: absent or a yes.
fn allows_downgrade(value: Option<&str>) -> Result<bool, String> {
    match value {
        None => Ok(false),
        Some("yes" | "true" | "1") => Ok(true),
        Some(other) => Err(format!(
            "allow_downgrade must be yes (or left out), not \"{}\"",
            other.escape_debug()
        )),
    }
}

struct ApiUpload {
    sink: Box<dyn UpdateSink>,
    who: String,
}

impl BodySink for ApiUpload {
    fn push(&mut self, bytes: &[u8]) -> Result<(), Response> {
        self.sink.push(bytes).map_err(|e| {
            audited!(
                info,
                "web: {}: the uploaded update was refused: {e}",
                self.who
            );
            api_error(422, e)
        })
    }

    fn finish(self: Box<Self>) -> Response {
        let ApiUpload { sink, who } = *self;
        match sink.finish() {
            Ok(said) => {
                audited!(info, "web: {who} uploaded an update");
                Response::json(200, &json!({ "installed": said }))
            }
            Err(e) => {
                audited!(info, "web: {who}: the uploaded update was refused: {e}");
                api_error(422, e)
            }
        }
    }
}

/// The page's form, as its parts arrive: the result is told on the system page (the
/// answer is a redirect there, the message in the session's flash).
struct PageUpload {
    multipart: Multipart,
    backend: Arc<dyn Backend>,
    state: Arc<Mutex<State>>,
    auth: Auth,
    who: String,
    /// Begun at the file's first byte, once the fields before it were checked.
    sink: Option<Box<dyn UpdateSink>>,
}

/// Why a page upload stopped early.
enum Refused {
    /// Not from this page's form: answered like any such form, nothing told.
    Forbidden(Response),
    /// Not installed, and why.
    Update(String),
}

impl PageUpload {
    /// Tells the result on the system page.
    fn told(&self, message: Message) -> Response {
        flash_to(&self.state, &self.auth.token, message);
        Response::see_other("/system")
    }

    fn refused(&self, why: Refused) -> Response {
        match why {
            Refused::Forbidden(answer) => answer,
            Refused::Update(why) => {
                audited!(
                    info,
                    "web: {}: the uploaded update was refused: {why}",
                    self.who
                );
                self.told(Message::error(format!(
                    "The update was not installed: {why}"
                )))
            }
        }
    }
}

/// The update begins at the file's first byte, if the fields before it allow it.
fn begin(
    backend: &dyn Backend,
    auth: &Auth,
    fields: &Fields,
) -> Result<Box<dyn UpdateSink>, Refused> {
    let sent = fields.get("csrf").unwrap_or_default();
    if !session::same_secret(&sent, &auth.session.csrf) {
        let asked = format!("POST {PAGE_PATH} from {}", auth.session.peer);
        return Err(Refused::Forbidden(guard::csrf_refused(&asked, false)));
    }
    let allow_downgrade =
        allows_downgrade(fields.get("allow_downgrade").as_deref()).map_err(Refused::Update)?;
    backend
        .begin_update(allow_downgrade)
        .map_err(Refused::Update)
}

impl BodySink for PageUpload {
    fn push(&mut self, bytes: &[u8]) -> Result<(), Response> {
        let mut stopped = None;
        let PageUpload {
            multipart,
            sink,
            backend,
            auth,
            ..
        } = self;
        let pushed = multipart.push(bytes, &mut |fields, file| {
            if sink.is_none() {
                match begin(backend.as_ref(), auth, fields) {
                    Ok(begun) => *sink = Some(begun),
                    Err(why) => {
                        stopped = Some(why);
                        return Err(String::new());
                    }
                }
            }
            match sink {
                Some(sink) => sink.push(file),
                None => Ok(()),
            }
        });
        match (pushed, stopped) {
            (_, Some(why)) => Err(self.refused(why)),
            (Err(e), None) => Err(self.refused(Refused::Update(e))),
            (Ok(()), None) => Ok(()),
        }
    }

    fn finish(mut self: Box<Self>) -> Response {
        if let Err(e) = self.multipart.finish() {
            return self.refused(Refused::Update(e));
        }
        let Some(sink) = self.sink.take() else {
            return self.refused(Refused::Update("the update file is empty".into()));
        };
        match sink.finish() {
            Ok(said) => {
                audited!(info, "web: {} uploaded an update", self.who);
                self.told(Message::ok(format!(
                    "Update written. {said}Reboot below to try it."
                )))
            }
            Err(e) => self.refused(Refused::Update(e)),
        }
    }
}
