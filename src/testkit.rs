//! Builders for test and sample data: request lists as xlsx, mails as RFC 5322 bytes, Maildirs.
