//! The columns of the consolidated list per request type, the one the department forwards
//! upstream. Configurable per type (`[report.columns]` in the config, by column key); the default
//! is TEMPLATE.md's column order without the fields the type ignores.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::schema::{Field, Need, RequestType};

/// One column a consolidated list may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// 1, 2, 3... within the list.
    Seq,
    /// The registry's unit code.
    UnitCode,
    /// A field of the row, by its TEMPLATE.md key.
    Field(Field),
    /// When the source mail reached the mailbox.
    ReceivedAt,
}

/// The fields a consolidated list can name, in TEMPLATE.md order: the template's columns
/// without its "STT".
const FIELDS: &[Field] = crate::schema::TEMPLATE_COLUMNS
    .split_first()
    .expect("the template has columns")
    .1;

impl Column {
    /// The key used in the configuration.
    pub fn key(self) -> &'static str {
        match self {
            Column::Seq => "seq",
            Column::UnitCode => "unit_code",
            Column::Field(f) => f.key(),
            Column::ReceivedAt => "received_at",
        }
    }

    /// The header staff and the upstream office read.
    pub fn header(self) -> &'static str {
        match self {
            Column::Seq => "STT",
            Column::UnitCode => "Mã đơn vị",
            Column::Field(f) => f.header(),
            Column::ReceivedAt => "Ngày gửi thư",
        }
    }

    /// Every column, for error messages.
    fn all() -> impl Iterator<Item = Column> {
        [Column::Seq, Column::UnitCode]
            .into_iter()
            .chain(FIELDS.iter().map(|f| Column::Field(*f)))
            .chain([Column::ReceivedAt])
    }

    pub fn from_key(key: &str) -> Option<Column> {
        Column::all().find(|c| c.key() == key)
    }
}

/// The columns of each request type's list, in `RequestType::ALL` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeColumns(pub [Vec<Column>; 7]);

impl Default for TypeColumns {
    fn default() -> Self {
        TypeColumns(RequestType::ALL.map(default_columns))
    }
}

impl TypeColumns {
    /// The default with the configured types replaced; an unknown type or column is an error.
    pub fn from_config(config: &BTreeMap<String, Vec<String>>) -> Result<TypeColumns> {
        let mut out = TypeColumns::default();
        for (type_code, keys) in config {
            let Some(i) = RequestType::ALL.iter().position(|t| t.code() == type_code) else {
                bail!(
                    "report.columns: unknown request type '{type_code}' (one of {})",
                    RequestType::ALL.map(|t| t.code()).join(", ")
                );
            };
            let mut columns = Vec::new();
            for k in keys {
                match Column::from_key(k) {
                    Some(c) => columns.push(c),
                    None => bail!(
                        "report.columns.{type_code}: unknown column '{k}' (one of {})",
                        Column::all()
                            .map(Column::key)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            if columns.is_empty() {
                bail!("report.columns.{type_code} names no column");
            }
            out.0[i] = columns;
        }
        Ok(out)
    }

    pub fn of(&self, t: RequestType) -> &[Column] {
        let i = RequestType::ALL
            .iter()
            .position(|x| *x == t)
            .expect("every type is listed");
        &self.0[i]
    }
}

/// TEMPLATE.md's columns, without the request type (the list is of one type) and without the
/// fields the type ignores.
fn default_columns(t: RequestType) -> Vec<Column> {
    std::iter::once(Column::Seq)
        .chain(
            FIELDS
                .iter()
                .filter(|f| **f != Field::RequestType && t.requirement(**f) != Need::Ignored)
                .map(|f| Column::Field(*f)),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_template_without_ignored_fields() {
        let d = TypeColumns::default();
        let keys = |t| d.of(t).iter().map(|c| c.key()).collect::<Vec<_>>();
        assert_eq!(
            keys(RequestType::NewMailbox),
            [
                "seq",
                "full_name",
                "birth_date",
                "id_number",
                "id_issue_date",
                "id_issue_place",
                "position",
                "unit_name",
                "phone",
                "note"
            ]
        );
        assert!(keys(RequestType::Change).contains(&"change_detail"));
        assert!(keys(RequestType::Revoke).contains(&"cert_serial"));
    }

    #[test]
    fn a_configured_type_replaces_its_default_and_typos_are_refused() {
        let mut c = BTreeMap::new();
        c.insert(
            "new_cert".to_string(),
            vec!["unit_code".into(), "full_name".into(), "id_number".into()],
        );
        let t = TypeColumns::from_config(&c).unwrap();
        assert_eq!(t.of(RequestType::NewCert).len(), 3);
        assert_eq!(
            t.of(RequestType::Renew),
            TypeColumns::default().of(RequestType::Renew)
        );
        c.insert("renew".into(), vec!["fullname".into()]);
        let e = TypeColumns::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("fullname"), "{e}");
        let mut c = BTreeMap::new();
        c.insert("renewal".into(), vec!["seq".into()]);
        assert!(TypeColumns::from_config(&c).is_err());
    }
}
