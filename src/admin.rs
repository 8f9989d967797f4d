//! The administration commands (`groupware user …`, `groupware session …`) and the
//! first-start bootstrap. They work on either backend through the same repositories the
//! server uses.

use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use groupware_api::store::Store;

use crate::accounts::{self, NewAccount};
use crate::config::{SessionCommand, UserCommand};
use crate::{crypto, session};

/// Every application's run-right name. Each app crate's `MethodTable::app` must be here
/// (a test checks it), so a typo in `--apps` is refused instead of silently granted.
pub const KNOWN_APPS: &[&str] = &["addressbook", "calendar", "infolog", "notes"];

/// Checks application names against [`KNOWN_APPS`].
pub fn validate_apps(apps: &[String]) -> anyhow::Result<Vec<String>> {
    let mut valid = Vec::new();
    for app in apps
        .iter()
        .map(|app| app.trim())
        .filter(|app| !app.is_empty())
    {
        if !KNOWN_APPS.contains(&app) {
            bail!(
                "unknown application '{app}': known are {}",
                KNOWN_APPS.join(", ")
            );
        }
        if !valid.iter().any(|known: &String| known == app) {
            valid.push(app.to_owned());
        }
    }
    Ok(valid)
}

fn all_apps() -> Vec<String> {
    KNOWN_APPS.iter().map(|app| (*app).to_owned()).collect()
}

/// A random password for generated accounts: 24 hex characters (96 bits).
fn random_password() -> anyhow::Result<String> {
    let token = crypto::generate_token().map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(token[..24].to_owned())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("the password on standard input is empty");
    }
    Ok(password)
}

async fn require_account(store: &Store, name: &str) -> anyhow::Result<groupware_api::Account> {
    accounts::find_by_username(store, name)
        .await
        .map_err(storage)?
        .with_context(|| format!("no account named '{name}'"))
}

fn storage(error: groupware_api::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}: {}", error.log_detail().unwrap_or(""))
}

fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |moment| moment.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Runs a `groupware user …` command.
pub async fn run_user_command(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            password_stdin,
            apps,
            admin,
            full_name,
            email,
            timezone,
        } => {
            let apps = match apps {
                Some(apps) => validate_apps(&apps)?,
                None => all_apps(),
            };
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (random_password()?, true)
            };
            let id = accounts::create_account(
                store,
                NewAccount {
                    username: name.clone(),
                    password: Some(password.clone()),
                    full_name,
                    email,
                    timezone,
                    is_admin: admin,
                    apps,
                },
            )
            .await
            .map_err(storage)?;
            println!(
                "created account '{}' (id {id})",
                accounts::canonical_username(&name)
            );
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let account = require_account(store, &name).await?;
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (random_password()?, true)
            };
            accounts::set_password(store, account.id, &password)
                .await
                .map_err(storage)?;
            println!(
                "password changed for '{}'; its sessions were ended",
                account.username
            );
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Apps { name, set } => {
            let account = require_account(store, &name).await?;
            let apps = validate_apps(&set)?;
            accounts::set_apps(store, account.id, &apps)
                .await
                .map_err(storage)?;
            println!(
                "'{}' may now use: {}",
                account.username,
                if apps.is_empty() {
                    "(nothing)".into()
                } else {
                    apps.join(", ")
                }
            );
        }
        UserCommand::List => {
            let listing = accounts::list_accounts(store).await.map_err(storage)?;
            println!(
                "{:>5}  {:<20} {:<8} {:<6} {:<25} apps",
                "id", "username", "enabled", "admin", "full name"
            );
            for entry in listing {
                println!(
                    "{:>5}  {:<20} {:<8} {:<6} {:<25} {}",
                    entry.account.id,
                    entry.account.username,
                    if entry.enabled { "yes" } else { "no" },
                    if entry.account.is_admin { "yes" } else { "no" },
                    entry.account.full_name,
                    entry.account.apps.join(",")
                );
            }
        }
        UserCommand::Disable { name } => {
            let account = require_account(store, &name).await?;
            accounts::set_enabled(store, account.id, false)
                .await
                .map_err(storage)?;
            println!("disabled '{}'; its sessions were ended", account.username);
        }
        UserCommand::Enable { name } => {
            let account = require_account(store, &name).await?;
            accounts::set_enabled(store, account.id, true)
                .await
                .map_err(storage)?;
            println!("enabled '{}'", account.username);
        }
    }
    Ok(())
}

/// Runs a `groupware session …` command.
pub async fn run_session_command(store: &Store, command: SessionCommand) -> anyhow::Result<()> {
    match command {
        SessionCommand::List => {
            let sessions = session::list_sessions(store).await.map_err(storage)?;
            println!(
                "{:>6}  {:<20} {:<24} {:<24} ip",
                "number", "username", "logged in", "last seen"
            );
            for entry in sessions {
                println!(
                    "{:>6}  {:<20} {:<24} {:<24} {}",
                    entry.id,
                    entry.username,
                    format_time(entry.created_at),
                    format_time(entry.last_seen),
                    entry.login_ip.unwrap_or_default()
                );
            }
        }
        SessionCommand::Revoke {
            id: Some(id),
            user: None,
        } => {
            if session::revoke_session(store, id).await.map_err(storage)? {
                println!("ended session {id}");
            } else {
                bail!("no session number {id}");
            }
        }
        SessionCommand::Revoke {
            id: None,
            user: Some(name),
        } => {
            let account = require_account(store, &name).await?;
            let ended = session::revoke_user_sessions(store, account.id)
                .await
                .map_err(storage)?;
            println!("ended {ended} session(s) of '{}'", account.username);
        }
        SessionCommand::Revoke { .. } => bail!("give a session number or --user NAME"),
    }
    Ok(())
}

/// On an empty database, creates `admin` with a random password and prints it once.
/// With `demo`, also makes sure `demo`/`guest` exists with every application.
pub async fn bootstrap(store: &Store, demo: bool) -> anyhow::Result<()> {
    if accounts::count_accounts(store).await.map_err(storage)? == 0 {
        let password = random_password()?;
        accounts::create_account(
            store,
            NewAccount {
                username: "admin".into(),
                password: Some(password.clone()),
                full_name: "Administrator".into(),
                email: String::new(),
                timezone: "UTC".into(),
                is_admin: true,
                apps: all_apps(),
            },
        )
        .await
        .map_err(storage)?;
        // Printed once, on standard output only, so it can be noted; never logged.
        println!("created the administrator account: username admin, password {password}");
    }
    if demo
        && accounts::find_by_username(store, "demo")
            .await
            .map_err(storage)?
            .is_none()
    {
        let demo_id = accounts::create_account(
            store,
            NewAccount {
                username: "demo".into(),
                password: Some("guest".into()),
                full_name: "Demo User".into(),
                email: "demo@example.org".into(),
                timezone: "UTC".into(),
                is_admin: false,
                apps: all_apps(),
            },
        )
        .await
        .map_err(storage)?;
        groupware_addressbook::seed_demo_contacts(store, demo_id)
            .await
            .map_err(storage)?;
        groupware_calendar::seed_demo_events(store, demo_id)
            .await
            .map_err(storage)?;
        groupware_infolog::seed_demo_entries(store, demo_id)
            .await
            .map_err(storage)?;
        println!("created the demo account: username demo, password guest");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_checked() {
        assert_eq!(
            validate_apps(&["calendar".into(), " addressbook".into(), "calendar".into()]).ok(),
            Some(vec!["calendar".to_owned(), "addressbook".to_owned()])
        );
        assert!(validate_apps(&["calender".into()]).is_err());
        assert_eq!(validate_apps(&[String::new()]).ok(), Some(vec![]));
    }
}
