//! Sharing rights of every application, in one table keyed by application.
//!
//! Like eGroupWare's `egw_acl` (`acl_appname`, `acl_account`, `acl_location`, `acl_rights`),
//! `app_grants` (created by the calendar's migration) holds what an owner granted a grantee
//! on their data of one application: READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16. The
//! addressbook's grants moved here from a table of their own in migration 10.

use crate::ctx::Ctx;
use crate::error::Error;
use crate::params::{Params, convert};
use crate::store::{ReadRow, Store, Transaction};
use crate::value::{Struct, Value};

/// The ACL bits (eGroupWare's `EGW_ACL_*`).
pub mod rights {
    pub const READ: i64 = 1;
    pub const ADD: i64 = 2;
    pub const EDIT: i64 = 4;
    pub const DELETE: i64 = 8;
    pub const PRIVATE: i64 = 16;
    /// What an owner holds on their own entries.
    pub const ALL: i64 = READ | ADD | EDIT | DELETE | PRIVATE;
}

/// The rights `caller` holds on `owner`'s data of `app`.
pub async fn held(
    tx: &mut dyn Transaction,
    app: &str,
    caller: i64,
    owner: i64,
) -> Result<i64, Error> {
    if caller == owner {
        return Ok(rights::ALL);
    }
    let rows = tx
        .query(
            "SELECT rights FROM app_grants WHERE app = $1 AND owner = $2 AND grantee = $3",
            vec![app.into(), owner.into(), caller.into()],
        )
        .await?;
    match rows.first() {
        Some(row) => row.int("rights"),
        None => Ok(0),
    }
}

/// Fails with "Access not permitted" unless `held` includes `needed` (and PRIVATE for a
/// private entry).
pub fn require(held: i64, needed: i64, private: bool) -> Result<(), Error> {
    let private_ok = !private || held & rights::PRIVATE != 0;
    if held & needed == needed && private_ok {
        Ok(())
    } else {
        Err(Error::AccessNotPermitted)
    }
}

/// `{grantee id: rights}` of `owner` on `app`.
pub async fn get(store: &Store, app: &str, owner: i64) -> Result<Value, Error> {
    let rows = store
        .query(
            "SELECT grantee, rights FROM app_grants WHERE app = $1 AND owner = $2 \
             ORDER BY grantee",
            vec![app.into(), owner.into()],
        )
        .await?;
    let mut listing = Struct::default();
    for row in &rows {
        listing.insert(
            row.int("grantee")?.to_string().into(),
            Value::Int(row.int("rights")?),
        );
    }
    Ok(Value::Struct(listing))
}

/// Sets `owner`'s grants on `app` from `{account id or username: rights}`; 0 revokes.
/// All or nothing, in one transaction.
pub async fn set(store: &Store, app: &str, owner: i64, members: &Struct) -> Result<(), Error> {
    let mut changes = Vec::with_capacity(members.len());
    for (grantee, granted) in members {
        let granted = convert::<i64>(granted, format_args!("member '{grantee}'"))?;
        if !(0..=rights::ALL).contains(&granted) {
            return Err(Error::invalid(format!(
                "member '{grantee}': rights must be between 0 and {}",
                rights::ALL
            )));
        }
        let key = grantee.trim();
        let rows = match key.parse::<i64>() {
            Ok(id) => {
                store
                    .query("SELECT id FROM accounts WHERE id = $1", vec![id.into()])
                    .await?
            }
            Err(_) => {
                store
                    .query(
                        "SELECT id FROM accounts WHERE username = $1",
                        vec![key.to_lowercase().into()],
                    )
                    .await?
            }
        };
        let grantee_id = rows
            .first()
            .ok_or_else(|| Error::invalid(format!("member '{grantee}': unknown account")))?
            .int("id")?;
        if grantee_id == owner {
            return Err(Error::invalid(format!(
                "member '{grantee}': an owner always holds every right"
            )));
        }
        changes.push((grantee_id, granted));
    }
    replace(store, app, owner, &changes).await
}

/// Replaces `owner`'s grant on `app` to each `(grantee, rights)`; rights 0 revokes. All or
/// nothing, in one transaction. The grantees must be accounts other than `owner`.
pub async fn replace(
    store: &Store,
    app: &str,
    owner: i64,
    changes: &[(i64, i64)],
) -> Result<(), Error> {
    let mut transaction = store.begin().await?;
    for &(grantee, granted) in changes {
        transaction
            .execute(
                "DELETE FROM app_grants WHERE app = $1 AND owner = $2 AND grantee = $3",
                vec![app.into(), owner.into(), grantee.into()],
            )
            .await?;
        if granted != 0 {
            transaction
                .execute(
                    "INSERT INTO app_grants (app, owner, grantee, rights) VALUES ($1, $2, $3, $4)",
                    vec![app.into(), owner.into(), grantee.into(), granted.into()],
                )
                .await?;
        }
    }
    transaction.commit().await
}

/// The wire side of `get_grants` for an application keeping its grants here: no
/// parameters; the caller's grants as `{grantee id: rights}`.
pub async fn get_method(ctx: &Ctx, params: &Params, app: &str) -> Result<Value, Error> {
    params.expect_count(0, 0)?;
    let caller = ctx.caller()?;
    get(ctx.store()?, app, caller.id).await
}

/// The wire side of `set_grants`: one struct `{grantee: rights}`; answers the grants
/// afterwards, as `get_grants` does.
pub async fn set_method(ctx: &Ctx, params: &Params, app: &str) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.single()?;
    let store = ctx.store()?;
    set(store, app, caller.id, &members).await?;
    get(store, app, caller.id).await
}
