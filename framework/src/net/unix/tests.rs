use super::*;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("aioproto-unit-{}-{name}", std::process::id()))
}

#[test]
fn stale_socket_is_removed_other_files_are_not() {
    let sock = temp_path("stale.sock");
    let _ = std::fs::remove_file(&sock);
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    remove_stale_socket(&sock).unwrap();
    assert!(!sock.exists());
    // Nothing there: fine.
    remove_stale_socket(&sock).unwrap();

    let file = temp_path("regular");
    std::fs::write(&file, b"data").unwrap();
    remove_stale_socket(&file).unwrap();
    assert!(file.exists());
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn socket_file_removes_only_its_own_inode() {
    let path = temp_path("own.sock");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, b"first").unwrap();
    let file = SocketFile::of(&path).unwrap();
    // Replaced by another file: left in place. (The old file is kept under
    // another name so that the new one cannot reuse its inode number.)
    let old = temp_path("own.sock.old");
    std::fs::rename(&path, &old).unwrap();
    std::fs::write(&path, b"second").unwrap();
    file.remove();
    assert!(path.exists());
    std::fs::remove_file(&old).unwrap();
    // The same file: removed; gone already: no panic.
    let file = SocketFile::of(&path).unwrap();
    let again = SocketFile::of(&path).unwrap();
    file.remove();
    assert!(!path.exists());
    again.remove();
}
