//! adt-check --backup, adt-seed and adt-backup verify read archives with
//! one reader, so they agree on which archives are whole (issue 13): each
//! binary is run on a corpus of good and broken archives, against the
//! embedded emulator.

mod common;

use std::io::Write;
use std::process::Command;

use adt_datastore::PutOptions;
use adt_testkit::{Emulator, unique_bucket};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn ungz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

/// The corpus: (name, bytes, whole?).
fn corpus(good: &[u8]) -> Vec<(&'static str, Vec<u8>, bool)> {
    let tar = ungz(good);
    let mut multi = gz(&tar[..tar.len() / 2]);
    multi.extend(gz(&tar[tar.len() / 2..]));
    let mut crc = good.to_vec();
    let at = crc.len() - 6;
    crc[at] ^= 0xff;
    let mut garbage = good.to_vec();
    garbage.extend_from_slice(b"\ntrailing garbage\n");
    let mut huge = tar::Header::new_gnu();
    huge.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    huge.set_entry_type(tar::EntryType::new(b'L'));
    huge.set_mode(0o644);
    huge.set_size(1 << 30);
    huge.set_cksum();
    let mut hostile = tar[..tar.len() - 1024].to_vec();
    hostile.extend_from_slice(huge.as_bytes());
    hostile.extend(vec![b'n'; 8192]);
    vec![
        ("good", good.to_vec(), true),
        ("two gzip members", multi, true),
        ("bad CRC", crc, false),
        ("trailing garbage", garbage, false),
        ("cut trailer", good[..good.len() - 4].to_vec(), false),
        ("cut in half", good[..good.len() / 2].to_vec(), false),
        ("no end-of-archive blocks", gz(&tar[..tar.len() - 1024]), false),
        ("a 1 GiB long name", gz(&hostile), false),
    ]
}

#[test]
fn check_seed_and_verify_agree_on_every_archive() {
    let emulator = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("html");
    std::fs::create_dir_all(webroot.join("images/2024")).unwrap();
    std::fs::write(webroot.join("index.php"), b"<?php echo 1;").unwrap();
    std::fs::write(webroot.join("images/2024/a.jpg"), vec![7u8; 5000]).unwrap();
    let good_path = dir.path().join("good.tar.gz");
    let table = adt_localfs::MountTable::default();
    let ex = adt_backups::Exclusions::new(&webroot, None, &table, &[]).unwrap();
    adt_backups::create(&webroot, &ex, &table, &good_path, 6).unwrap();
    let good = std::fs::read(&good_path).unwrap();

    let store = common::store(&emulator.endpoint());
    let rt = common::runtime();
    for (i, (name, bytes, whole)) in corpus(&good).into_iter().enumerate() {
        let url = format!("{}.example.com", unique_bucket(&format!("agree{i}")));
        let template = dir.path().join(format!("site{i}.tmpl"));
        common::images_template(&template, &url, &emulator.endpoint());
        let archive = dir.path().join(format!("archive{i}.tar.gz"));
        std::fs::write(&archive, &bytes).unwrap();
        let run =
            |bin: &str, args: &[&str]| common::output(Command::new(bin).args(args).arg("--template").arg(&template));
        let a = archive.to_str().unwrap();
        let check = common::output(
            Command::new(env!("CARGO_BIN_EXE_adt-check"))
                .args(["--backup", a])
                .arg(&template),
        );
        let seed = run(env!("CARGO_BIN_EXE_adt-seed"), &["--backup", a, "--no-cache"]);
        let bucket = adt_template::backup_bucket_name(&url, adt_template::Period::Hourly);
        rt.block_on(store.ensure_bucket(&bucket)).unwrap();
        rt.block_on(store.put(
            &bucket,
            adt_template::ARCHIVE_KEY,
            bytes.clone().into(),
            &PutOptions::default(),
        ))
        .unwrap();
        let verify = run(env!("CARGO_BIN_EXE_adt-backup"), &["verify", "--period", "hourly"]);
        for (tool, (code, out, err)) in [
            ("adt-check --backup", &check),
            ("adt-seed", &seed),
            ("adt-backup verify", &verify),
        ] {
            assert_eq!(*code == 0, whole, "{name}: {tool} exit {code}: {out}{err}");
            assert!(!err.contains("panicked"), "{name}: {tool}: {err}");
        }
    }
}
