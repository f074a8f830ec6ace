use super::*;

#[test]
fn stdout_redirect_is_for_stderr_only() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Stdout);
    let err = plumbing(&options).err().expect("stdin=Stdout is rejected");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    let mut options = SubprocessOptions::new();
    options.stdout(Stdio::Stdout);
    assert!(plumbing(&options).is_err());
}

#[test]
fn plumbing_keeps_only_piped_ends() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null).stderr(Stdio::Stdout);
    let plumbing = plumbing(&options).unwrap();
    assert!(plumbing.parent[0].is_none());
    assert!(plumbing.parent[1].is_some());
    assert!(
        plumbing.parent[2].is_none(),
        "merged stderr has no pipe of its own"
    );
}

#[test]
fn limit_must_be_positive() {
    assert!(SubprocessOptions::new().limit(0).is_err());
    assert_eq!(SubprocessOptions::new().limit(10).unwrap().limit, 10);
}
