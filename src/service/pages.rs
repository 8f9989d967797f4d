//! The documentation page: who is asking, then [`crate::docs::render`].

use groupware_api::RequestInfo;

use super::{Response, Service};
use crate::credentials::Credentials;
use crate::dispatch::Request;
use crate::docs::{self, PageContext};

/// The content type of the documentation page.
const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

impl Service {
    /// Serves the documentation page for the caller the credentials name (anonymous when
    /// there are none or they are not accepted; the page never challenges).
    pub async fn docs_page(
        &self,
        credentials: Credentials,
        info: RequestInfo,
        base_url: &str,
    ) -> Response {
        let sent_credentials = !matches!(credentials, Credentials::Absent);
        let request = Request::new(credentials, info);
        let account = self.dispatcher.optional_account(&request).await;
        let context = PageContext {
            account: account.as_deref(),
            credentials_refused: sent_credentials && account.is_none(),
            base_url,
            jsonp: self.jsonp,
        };
        Response {
            status: 200,
            content_type: HTML_CONTENT_TYPE,
            body: docs::render(&self.dispatcher.registry, &context),
            challenge: false,
            allow: None,
        }
    }
}
