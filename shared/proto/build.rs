//! Compiles every `.proto` under `proto/edu` with protox (pure Rust, so no system `protoc`)
//! and generates prost messages and tonic clients and servers from the result. The same
//! descriptor set, with imports and comments, is written out for server reflection, and the
//! request checks of `src/limits.rs` are generated from it (`build/limits.rs`).

use std::error::Error;
use std::path::{Path, PathBuf};

#[path = "build/limits.rs"]
mod limits;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut files = Vec::new();
    collect_protos(&proto_root.join("edu"), &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_imports(true).include_source_info(true);
    for file in &files {
        compiler.open_file(file)?;
    }
    std::fs::write(
        out_dir.join("edu_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    std::fs::write(
        out_dir.join("edu_limits.rs"),
        limits::generate(&compiler.descriptor_pool())?,
    )?;

    tonic_prost_build::configure()
        // Every request is checked against its fields' limits as it is decoded.
        .codec_path("crate::codec::CheckedCodec")
        // Maps encode in key order, so that the same request always has the same bytes: the
        // idempotency store hashes requests.
        .btree_map(".")
        .include_file("edu_includes.rs")
        .compile_fds(compiler.file_descriptor_set())?;

    // Paths relative to this package, not absolute: the fingerprint then follows the
    // checkout being built, so a second clone or worktree sharing the target directory (CI
    // reuses one) has its own files compared, never another checkout's.
    println!("cargo:rerun-if-changed=../../proto");
    println!("cargo:rerun-if-changed=build/limits.rs");
    for file in &files {
        if let Ok(relative) = file.strip_prefix(&proto_root) {
            println!("cargo:rerun-if-changed=../../proto/{}", relative.display());
        }
    }
    Ok(())
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    Ok(())
}
