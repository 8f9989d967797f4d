//! The wire form of a deletion, as every application's `deleted` method answers it (sync
//! clients ask which entries vanished since their last sync).

use crate::ctx::Account;
use crate::value::{Key, Struct, Value};
use crate::zone;

/// One tombstone: `id`, the application's own identifying members (`uid`, `type`, …),
/// `owner`, `deleted` (wire time in the caller's zone) and `deleted_at` (unix seconds).
pub fn record(
    caller: &Account,
    id: i64,
    owner: i64,
    deleted_at: i64,
    identifying: impl IntoIterator<Item = (&'static str, Value)>,
) -> Value {
    let mut members = Struct::default();
    members.insert(Key::Borrowed("id"), Value::Int(id));
    for (name, value) in identifying {
        members.insert(Key::Borrowed(name), value);
    }
    members.insert(Key::Borrowed("owner"), Value::Int(owner));
    members.insert(Key::Borrowed("deleted"), zone::to_wire(caller, deleted_at));
    members.insert(Key::Borrowed("deleted_at"), Value::Int(deleted_at));
    Value::Struct(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn members_in_wire_order_with_the_time_in_the_callers_zone() {
        let caller = Account {
            id: 1,
            username: "demo".into(),
            full_name: String::new(),
            email: String::new(),
            timezone: "Europe/Berlin".into(),
            is_admin: false,
            apps: Vec::new(),
        };
        // 2024-07-01 07:00 UTC is 09:00 in Berlin (summer time).
        let deleted_at = 1_719_817_200;
        let Value::Struct(members) =
            record(&caller, 7, 3, deleted_at, [("uid", Value::from("u-7"))])
        else {
            panic!("a tombstone is a struct");
        };
        let names: Vec<&str> = members.keys().map(AsRef::as_ref).collect();
        assert_eq!(names, ["id", "uid", "owner", "deleted", "deleted_at"]);
        let nine = NaiveDate::from_ymd_opt(2024, 7, 1).and_then(|day| day.and_hms_opt(9, 0, 0));
        assert_eq!(members.get("deleted"), nine.map(Value::DateTime).as_ref());
        assert_eq!(members.get("deleted_at"), Some(&Value::Int(deleted_at)));
        assert_eq!(members.get("owner"), Some(&Value::Int(3)));
    }
}
