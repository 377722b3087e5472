//! A reply on its way into the outbox: fixed when the mail is taken (recipients, Message-ID,
//! the draft it is composed from), its bytes written at delivery.

/// A rendered reply, ready for the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingReply {
    pub message_id: String,
    /// A [`ReplyKind`](super::ReplyKind)'s code, or `reminder`.
    pub kind: String,
    pub recipients: Vec<String>,
    /// Empty while `draft` is set.
    pub bytes: Vec<u8>,
    /// Why the reply is kept for staff instead of sent (the rate limit), if it is.
    pub held: Option<String>,
    /// What the reply is composed from at delivery (JSON, see `outbox::drafts`), when it is not
    /// composed yet.
    pub draft: Option<String>,
}
