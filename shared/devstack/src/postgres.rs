//! Finding a Postgres for the local suite, in this order: `DATABASE_URL` when set; a server
//! on localhost:5432 when one answers; otherwise a private cluster of the installed server
//! binaries in a data folder of our own (started with `pg_ctl`, as the unprivileged
//! `postgres` user when we are root, since `initdb` and `postgres` refuse to run as root).
//! Where there are no binaries, one message says how to get them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use crate::DevError;

/// The local server tried when `DATABASE_URL` is unset.
pub const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What to do when no Postgres is found.
pub const HOW_TO_GET_POSTGRES: &str = "no PostgreSQL found: set DATABASE_URL to an administrator URL, \
or start one on localhost:5432, or install the server so that a private cluster can be started \
(Debian/Ubuntu: `apt install postgresql`; macOS: `brew install postgresql@16`; \
or a container: `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`)";

/// Where the administrator connection came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `DATABASE_URL`.
    Configured,
    /// A server already running on localhost:5432.
    Local,
    /// A private cluster in this data folder, started by us.
    Private(PathBuf),
}

/// A Postgres the suite can use, with an administrator URL.
#[derive(Debug)]
pub struct Postgres {
    /// An administrator (superuser) URL.
    pub admin_url: String,
    /// Where it came from.
    pub source: Source,
    private: Option<PrivateCluster>,
}

impl Postgres {
    /// Finds or starts Postgres. `data_root` holds a private cluster if one is needed.
    pub async fn find_or_start(data_root: &Path) -> Result<Postgres, DevError> {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            answers(&url)
                .await
                .map_err(|e| DevError::Postgres(format!("DATABASE_URL does not answer: {e}")))?;
            return Ok(Postgres {
                admin_url: url,
                source: Source::Configured,
                private: None,
            });
        }
        if answers(LOCAL_URL).await.is_ok() {
            return Ok(Postgres {
                admin_url: LOCAL_URL.to_string(),
                source: Source::Local,
                private: None,
            });
        }
        Postgres::start_private(data_root).await
    }

    /// Starts (or reuses) a private cluster in `data_root`.
    pub async fn start_private(data_root: &Path) -> Result<Postgres, DevError> {
        let cluster = PrivateCluster::start(data_root).await?;
        Ok(Postgres {
            admin_url: cluster.admin_url(),
            source: Source::Private(cluster.data_dir.clone()),
            private: Some(cluster),
        })
    }

    /// Starts a fresh private cluster in `data_root` that loads `pg_stat_statements`, for the
    /// benchmarks, which count the statements each side sends. Stopped (and its data removed)
    /// by [`Postgres::stop`].
    pub async fn start_counting(data_root: &Path) -> Result<Postgres, DevError> {
        let data_dir = data_root.join("postgres");
        if data_dir.exists() {
            // A previous run's cluster: stop it if it runs, and start afresh.
            let _ = PrivateCluster::adopt(data_root).await;
            std::fs::remove_dir_all(&data_dir).map_err(|e| DevError::Io(data_dir.clone(), e))?;
        }
        let mut cluster = PrivateCluster::prepare(data_root)?;
        cluster.options = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_utility=on -c max_connections=200".into();
        cluster.remove_on_stop = true;
        cluster.initdb().await?;
        cluster.port = free_port(0)?;
        cluster.pg_ctl_start().await?;
        answers(&cluster.admin_url())
            .await
            .map_err(|e| DevError::Postgres(format!("the private cluster does not answer: {e}")))?;
        Ok(Postgres {
            admin_url: cluster.admin_url(),
            source: Source::Private(cluster.data_dir.clone()),
            private: Some(cluster),
        })
    }

    /// Stops a private cluster we started; other servers are left alone.
    pub async fn stop(self) -> Result<(), DevError> {
        match self.private {
            Some(cluster) => cluster.stop().await,
            None => Ok(()),
        }
    }
}

async fn answers(url: &str) -> Result<(), sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await?;
    sqlx::query("SELECT 1").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// A cluster of the installed server binaries in a folder of ours.
#[derive(Debug)]
struct PrivateCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as: Option<String>,
    /// Extra server settings.
    options: String,
    /// Whether stopping removes the data folder (a benchmark's throwaway cluster).
    remove_on_stop: bool,
}

impl PrivateCluster {
    /// The cluster's description, before anything is started.
    fn prepare(data_root: &Path) -> Result<Self, DevError> {
        let bin_dir =
            server_binaries().ok_or_else(|| DevError::Postgres(HOW_TO_GET_POSTGRES.to_string()))?;
        let run_as = if is_root() {
            if !user_exists("postgres") {
                return Err(DevError::Postgres(
                    "running as root, and initdb refuses root: create an unprivileged `postgres` user or run as another user".into(),
                ));
            }
            Some("postgres".to_string())
        } else {
            None
        };
        std::fs::create_dir_all(data_root).map_err(|e| DevError::Io(data_root.to_path_buf(), e))?;
        Ok(PrivateCluster {
            bin_dir,
            data_dir: data_root.join("postgres"),
            port: 0,
            run_as,
            options: String::new(),
            remove_on_stop: false,
        })
    }

    /// Stops the cluster running in `data_root`, if one does.
    async fn adopt(data_root: &Path) -> Result<(), DevError> {
        let cluster = PrivateCluster::prepare(data_root)?;
        if cluster.running_port().is_some() {
            cluster.stop().await?;
        }
        Ok(())
    }

    async fn start(data_root: &Path) -> Result<Self, DevError> {
        let mut cluster = PrivateCluster::prepare(data_root)?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            tracing::info!(
                port,
                "reusing the private Postgres cluster that is already running"
            );
        } else {
            cluster.port = free_port(54329)?;
            cluster.pg_ctl_start().await?;
        }
        answers(&cluster.admin_url())
            .await
            .map_err(|e| DevError::Postgres(format!("the private cluster does not answer: {e}")))?;
        Ok(cluster)
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn as_owner(&self, program: &str, args: &[&str]) -> Result<(), DevError> {
        let program = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => tokio::process::Command::new(&program),
        };
        let output = command
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| DevError::Io(program.clone(), e))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(DevError::Postgres(format!(
                "{} failed: {}",
                program.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    async fn initdb(&self) -> Result<(), DevError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| DevError::Io(self.data_dir.clone(), e))?;
        if let Some(user) = &self.run_as {
            chown(&self.data_dir, user)?;
        }
        let dir = self.data_dir.to_string_lossy().to_string();
        self.as_owner(
            "initdb",
            &[
                "-D",
                &dir,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        .await
    }

    async fn pg_ctl_start(&self) -> Result<(), DevError> {
        let dir = self.data_dir.to_string_lossy().to_string();
        let log = self
            .data_dir
            .join("server.log")
            .to_string_lossy()
            .to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 {}",
            self.port, dir, self.options
        );
        self.as_owner(
            "pg_ctl",
            &[
                "-D", &dir, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        )
        .await
    }

    /// The port of a cluster already running in our data folder (its `postmaster.pid`
    /// names it on the fourth line).
    fn running_port(&self) -> Option<u16> {
        let pid_file = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid: u32 = pid_file.lines().next()?.trim().parse().ok()?;
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    async fn stop(self) -> Result<(), DevError> {
        let dir = self.data_dir.to_string_lossy().to_string();
        self.as_owner("pg_ctl", &["-D", &dir, "-m", "fast", "-w", "stop"])
            .await?;
        if self.remove_on_stop {
            std::fs::remove_dir_all(&self.data_dir)
                .map_err(|e| DevError::Io(self.data_dir.clone(), e))?;
        }
        Ok(())
    }
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: Debian's versioned folders (newest
/// first), then `PATH`.
fn server_binaries() -> Option<PathBuf> {
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    debian.into_iter().rev().chain(on_path).find(|dir| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    })
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(user: &str) -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn chown(path: &Path, user: &str) -> Result<(), DevError> {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(path)
        .status()
        .map_err(|e| DevError::Io(path.to_path_buf(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(DevError::Postgres(format!(
            "cannot give {} to {user}",
            path.display()
        )))
    }
}

/// `preferred` when it is free (and not 0), else a free port below the kernel's ephemeral
/// range when there is room there, else any free port.
///
/// The port is free when we look and is bound by the process we hand it to a moment later.
/// A port of the ephemeral range can be taken in that moment by any outgoing connection
/// (tests open hundreds), so it is chosen below the range, where the kernel never hands
/// out ports by itself; a clash with another suite choosing at the same moment remains
/// possible, and `Suite::start` starts a process again on other ports when it finds its
/// address taken.
pub fn free_port(preferred: u16) -> Result<u16, DevError> {
    let bind =
        |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).and_then(|l| l.local_addr());
    if preferred != 0
        && let Ok(addr) = bind(preferred)
    {
        return Ok(addr.port());
    }
    const LOWEST: u16 = 10_000;
    if let Some(ephemeral) = ephemeral_ports_start().filter(|start| *start > LOWEST + 1_000) {
        for _ in 0..64 {
            let port = LOWEST + (random() % u64::from(ephemeral - LOWEST)) as u16;
            if let Ok(addr) = bind(port) {
                return Ok(addr.port());
            }
        }
    }
    bind(0)
        .map(|a| a.port())
        .map_err(|e| DevError::Io(PathBuf::from("127.0.0.1:0"), e))
}

/// The first port of the kernel's ephemeral range (Linux).
fn ephemeral_ports_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A random number, from the standard library's randomly seeded hasher.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
