//! Transparency log (placeholder until issue 4).
