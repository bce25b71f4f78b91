//! The polling transport as an embedding program's HTTP server may drive it.

use crate::socketio::harness::{builder, Harness, QUIET};

#[test]
fn a_get_the_http_server_gives_up_on_leaves_the_session_usable() {
    let harness = Harness::new(builder().build());
    smol::block_on(async {
        let (mut client, _) = harness.connect("/", None).await;
        assert!(!client.abandoned_get(QUIET).await, "nothing was queued");
        // The next GET is the session's only one, not a second one at once.
        harness.io().emit("after", serde_json::json!(1));
        assert_eq!(client.recv().await, [r#"42["after",1]"#]);
    });
}
