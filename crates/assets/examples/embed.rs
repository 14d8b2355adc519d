//! A deployment tool embedding the front door: check a template, seed a
//! site's asset bucket from its backup into an in-memory store (no S3, no
//! emulator), and print the typed report. `cargo xtask test` runs it:
//!
//! ```sh
//! cargo run -p adt-assets --example embed
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use adt_assets::{SeedFrom, Site, SiteOptions};
use adt_datastore::{NoProgress, Store};
use adt_seeder::SeedOptions;
use adt_template::{CheckOptions, Severity, Template};

const TEMPLATE: &str = r#"
export WEBSITE_URL="www.example.com"
export APPLICATION="joomla"
export BUILD_ARCHIVE_CHOICE="hourly"
export PERSIST_ASSETS_TO_DATASTORE="1"
export DIRECTORIES_TO_MOUNT="images"
export S3_ACCESS_KEY="AKIAEXAMPLE"
export S3_SECRET_KEY="example-secret"
export S3_HOST_BASE="s3.example.com"
export S3_LOCATION="us-east-1"
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = tempfile::tempdir()?;
    let template_path = work.path().join("site.tmpl");
    std::fs::write(&template_path, TEMPLATE)?;

    // 1. Check the template the way adt-check does.
    let template = Template::read(&template_path)?;
    let options = CheckOptions::new("/var/www/html");
    let diagnostics = adt_template::check(&template, &options);
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    println!(
        "checked {}: {errors} error(s), {} warning(s)",
        template.name(),
        diagnostics.len() - errors
    );
    for d in &diagnostics {
        println!("  {}:{}: {} [{}]", d.line, d.column, d.message, d.rule);
    }

    // 2. Open the site with an in-memory store as its datastore.
    let store = Store::in_memory();
    let site = Site::load(
        &template_path,
        SiteOptions::new("/var/www/html").with_primary_store(store.clone()),
    )?;

    // 3. Seed its bucket from a backup of the webroot.
    let archive = work.path().join("applicationsourcecode.tar.gz");
    write_backup(&archive)?;
    let summary = site
        .seed(SeedFrom::File(archive))?
        .run(&SeedOptions::default(), Arc::new(NoProgress))
        .await?;
    for b in &summary.buckets {
        println!(
            "seeded {} into {}: {} object(s), {} uploaded, {} bytes",
            b.entry, b.bucket, b.objects, b.uploaded, b.bytes
        );
    }

    // 4. What the bucket holds now, with the metadata a mount would show.
    let bucket = &site.buckets()?[0];
    for (object, meta) in store.list_with_metadata(bucket, None, 4).await? {
        println!(
            "  {} ({} bytes, {}, mode {})",
            object.key,
            object.size,
            meta.content_type.as_deref().unwrap_or("?"),
            meta.metadata.get("mode").map_or("?", |m| m.as_str())
        );
    }
    // Two images and an object for each directory (banners/, empty/).
    if summary.uploaded() != 4 {
        return Err(format!("expected 4 objects uploaded, got {}", summary.uploaded()).into());
    }
    Ok(())
}

/// A small backup of a Joomla webroot: code outside the asset directory,
/// two images, a directory holding one, and an empty directory inside it.
fn write_backup(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    let mut add = |name: &str, body: &[u8], dir: bool| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_uid(33);
        h.set_gid(33);
        h.set_mtime(1_700_000_000);
        h.set_size(body.len() as u64);
        h.set_path(name)?;
        h.set_cksum();
        tar.append(&h, body)
    };
    add("./", b"", true)?;
    add("./index.php", b"<?php // Joomla", false)?;
    add("./XXXXXX-DO_NOT_REMOVE", b"", false)?;
    add("./images/", b"", true)?;
    add("./images/logo.png", b"\x89PNG logo", false)?;
    add("./images/banners/", b"", true)?;
    add("./images/banners/spring.jpg", b"JPEG banner", false)?;
    add("./images/empty/", b"", true)?;
    tar.into_inner()?.finish()?.flush()
}
