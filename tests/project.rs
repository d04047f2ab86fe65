//! Package folders for tests: a `Shire.toml` and a few files, built fluently
//! (`Project::new("braintree/crm", "1.0.0").dep("braintree/common", "^1")`).

use std::path::{Path, PathBuf};

/// A package project to write to disk.
pub struct Project {
    name: String,
    version: String,
    deps: Vec<(String, String)>,
    files: Vec<(String, String)>,
    description: String,
    publiccode: String,
}

impl Project {
    /// A project with one source file.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            deps: Vec::new(),
            files: vec![("src/main.py".into(), format!("print('{name} {version}')\n"))],
            description: format!("Test package {name}"),
            publiccode: String::new(),
        }
    }

    /// Adds a `[[publiccode.contractors]]` entry: `name` maintains it until `until`.
    pub fn contractor(mut self, name: &str, until: &str) -> Self {
        self.publiccode.push_str(&format!(
            "\n[[publiccode.contractors]]\nname = \"{name}\"\nuntil = \"{until}\"\n"
        ));
        self
    }

    /// Adds a dependency.
    pub fn dep(mut self, name: &str, req: &str) -> Self {
        self.deps.push((name.into(), req.into()));
        self
    }

    /// Adds or replaces a file.
    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.into(), content.into()));
        self
    }

    /// Appends raw `Shire.toml` text (a `[publiccode]` table, say) after
    /// the dependencies.
    pub fn manifest(mut self, toml: &str) -> Self {
        self.publiccode.insert_str(0, &format!("\n{toml}\n"));
        self
    }

    /// Sets the description.
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.into();
        self
    }

    /// Writes the project under `parent/<bare name>-<version>` and returns its folder.
    pub fn write(&self, parent: &Path) -> PathBuf {
        let bare = self.name.split('/').nth(1).unwrap_or("pkg");
        let dir = parent.join(format!("{bare}-{}", self.version));
        std::fs::create_dir_all(&dir).unwrap();
        let mut toml = format!(
            "[package]\nname = \"{}\"\nversion = \"{}\"\ndescription = \"{}\"\nlicense = \"EUPL-1.2\"\nauthors = [\"Test Council\"]\n\n[dependencies]\n",
            self.name, self.version, self.description
        );
        for (n, r) in &self.deps {
            toml.push_str(&format!("\"{n}\" = \"{r}\"\n"));
        }
        toml.push_str(&self.publiccode);
        std::fs::write(dir.join("Shire.toml"), toml).unwrap();
        for (p, c) in &self.files {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, c).unwrap();
        }
        dir
    }
}
