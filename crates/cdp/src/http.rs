//! The HTTP client the delivery workers post webhooks with.

use cdp_app::activation::deliver::Answer;
use cdp_app::activation::workers::Post;
use std::time::Duration;

/// A keep-alive agent; redirects are not followed (a webhook answered with
/// a redirect is not delivered), TLS with the system's roots and the bundled ones.
pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Http {
        Http { agent: ureq::AgentBuilder::new().redirects(0).max_idle_connections_per_host(16).user_agent("cdp-webhooks/1").build() }
    }
}

impl Post for Http {
    fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str, timeout: Duration) -> Answer {
        let mut req = self.agent.post(url).timeout(timeout);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match req.send_string(body) {
            Ok(resp) => {
                let status = resp.status();
                // Read the answer so that the connection can be reused.
                let _ = resp.into_string();
                Ok(status)
            }
            Err(ureq::Error::Status(code, resp)) => {
                let _ = resp.into_string();
                Ok(code)
            }
            Err(ureq::Error::Transport(t)) => Err(t.to_string()),
        }
    }
}
