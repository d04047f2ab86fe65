//! A ready-made shareware club for scenario tests: one node, a publishing
//! council (`braintree`) with a publisher, a verifying body (`socitm`) with a
//! verifier, and an installing council (`colchester`) that trusts the verifier.

use crate::{Node, Project, User};
use std::path::PathBuf;

/// The cast of a typical scenario.
pub struct Club {
    pub node: Node,
    pub admin: User,
    pub publisher: User,
    pub verifier: User,
    pub installer: User,
    /// The verifier's public key text (`ed25519:...`).
    pub verifier_key: String,
}

impl Club {
    /// A club on a node with default options.
    pub fn new() -> Club {
        Self::with_node(Node::start())
    }

    /// A club on a node started with extra `serve` arguments.
    pub fn with_node(node: Node) -> Club {
        let admin = node.admin();
        for org in ["braintree", "socitm", "colchester"] {
            admin.ok(&["admin", "org", "create", org]);
        }
        let publisher = account(&node, &admin, "bt-dev", "braintree", "publisher");
        let verifier = account(&node, &admin, "socitm-rev", "socitm", "verifier");
        let installer = node.user(None);
        let verifier_key = public_key(&verifier);
        installer.ok(&["trust", "add", &verifier_key, "--label", "socitm"]);
        Club {
            node,
            admin,
            publisher,
            verifier,
            installer,
            verifier_key,
        }
    }

    /// Writes and publishes a project as the publisher; returns its folder.
    pub fn publish(&self, project: &Project) -> PathBuf {
        let dir = project.write(self.publisher.cwd.path());
        self.publisher.ok(&["publish", dir.to_str().unwrap()]);
        dir
    }

    /// Approves `spec` (`org/name@version`) as the verifier.
    pub fn approve(&self, spec: &str) {
        self.verifier.ok(&["approve", spec]);
    }

    /// The digest the node holds for `org/name@version`.
    pub fn digest(&self, name: &str, version: &str) -> String {
        let v = self
            .node
            .get_json(&format!("/api/v1/packages/{name}/{version}"));
        v["digest"].as_str().unwrap().to_string()
    }
}

impl Default for Club {
    fn default() -> Self {
        Self::new()
    }
}

/// Creates an account, logs a fresh user in with it, and registers a new key.
pub fn account(node: &Node, admin: &User, name: &str, org: &str, role: &str) -> User {
    let info = admin.json(&[
        "admin", "user", "create", name, "--org", org, "--role", role,
    ]);
    let token = info["token"].as_str().expect("token in answer").to_string();
    let user = node.user(Some(&token));
    user.ok(&["key", "generate"]);
    user.ok(&["key", "register"]);
    user
}

/// A user's public key text, as `shire key show --json` prints it.
pub fn public_key(user: &User) -> String {
    user.json(&["key", "show"])["public_key"]
        .as_str()
        .expect("public_key")
        .to_string()
}
