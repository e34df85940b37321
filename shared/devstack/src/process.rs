//! One process of the suite: started from its real binary with its environment, waited on
//! until its health says SERVING, stopped with SIGTERM like Kubernetes stops a pod.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::DevError;

/// Where a process's logs go.
#[derive(Debug, Clone)]
pub enum Logs {
    /// To this terminal, each line prefixed with the process's name.
    Terminal,
    /// To `<dir>/<name>.log`, for tests.
    Files(PathBuf),
}

/// A running process of the suite.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    /// Its gRPC address.
    pub grpc_addr: SocketAddr,
    /// Its metrics address.
    pub metrics_addr: SocketAddr,
    log_file: Option<PathBuf>,
    /// How it was started, to start it again in its place.
    started: Started,
}

#[derive(Debug, Clone)]
struct Started {
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    logs: Logs,
}

impl Process {
    /// Starts `binary` with `args` and `env` (on top of a clean environment: nothing of the
    /// caller's `EDU_*` settings leaks in).
    pub fn spawn(
        name: &str,
        binary: &Path,
        args: &[&str],
        env: &[(String, String)],
        grpc_addr: SocketAddr,
        metrics_addr: SocketAddr,
        logs: &Logs,
    ) -> Result<Process, DevError> {
        let mut command = command(binary, args, env);
        let log_file = match logs {
            Logs::Terminal => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
                None
            }
            Logs::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| DevError::Io(dir.clone(), e))?;
                let path = dir.join(format!("{name}.log"));
                // Appended: a process started again in its place keeps the earlier lines.
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| DevError::Io(path.clone(), e))?;
                let err = file
                    .try_clone()
                    .map_err(|e| DevError::Io(path.clone(), e))?;
                command.stdout(file).stderr(err);
                Some(path)
            }
        };
        let mut child = command
            .spawn()
            .map_err(|e| DevError::Io(binary.to_path_buf(), e))?;
        if matches!(logs, Logs::Terminal) {
            if let Some(out) = child.stdout.take() {
                tokio::spawn(prefix_lines(name.to_string(), out));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(prefix_lines(name.to_string(), err));
            }
        }
        Ok(Process {
            name: name.to_string(),
            child,
            grpc_addr,
            metrics_addr,
            log_file,
            started: Started {
                binary: binary.to_path_buf(),
                args: args.iter().map(|a| a.to_string()).collect(),
                env: env.to_vec(),
                logs: logs.clone(),
            },
        })
    }

    /// Stops the process with SIGTERM as `stop` does, then starts the same binary with the
    /// same settings on the same addresses, as Kubernetes replaces a pod in a rollout.
    pub async fn restart(self, patience: Duration) -> Result<Process, DevError> {
        let name = self.name.clone();
        let (grpc_addr, metrics_addr) = (self.grpc_addr, self.metrics_addr);
        let started = self.started.clone();
        self.stop(patience).await?;
        let args: Vec<&str> = started.args.iter().map(String::as_str).collect();
        Process::spawn(
            &name,
            &started.binary,
            &args,
            &started.env,
            grpc_addr,
            metrics_addr,
            &started.logs,
        )
    }

    /// The operating system's process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the process's health reports `service` (`""` for the whole process) as
    /// SERVING. Fails early when the process exits.
    pub async fn wait_serving(
        &mut self,
        service: &str,
        patience: Duration,
    ) -> Result<(), DevError> {
        let addr = self.grpc_addr;
        self.wait_serving_at(addr, service, patience).await
    }

    /// [`Process::wait_serving`], asking at `addr` (a probe listener of the process).
    pub async fn wait_serving_at(
        &mut self,
        addr: SocketAddr,
        service: &str,
        patience: Duration,
    ) -> Result<(), DevError> {
        let started = Instant::now();
        let endpoint = edu_kit::client::endpoint(format!("http://{addr}"))
            .map_err(|e| DevError::NotReady(self.name.clone(), e.to_string()))?;
        let mut last_error = String::from("not started");
        while started.elapsed() < patience {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| DevError::Io(PathBuf::from(&self.name), e))?
            {
                return Err(DevError::Exited(
                    self.name.clone(),
                    status.to_string(),
                    self.log_tail(),
                ));
            }
            match endpoint.connect().await {
                Ok(channel) => match HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: service.to_string(),
                    })
                    .await
                {
                    Ok(response) if response.get_ref().status() == ServingStatus::Serving => {
                        return Ok(());
                    }
                    Ok(response) => {
                        last_error = format!(
                            "{service:?} is {}",
                            response.get_ref().status().as_str_name()
                        )
                    }
                    Err(status) => last_error = status.to_string(),
                },
                Err(e) => last_error = e.to_string(),
            }
            // Readiness is polled: the process reports it, nothing can push it to us.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(DevError::NotReady(
            self.name.clone(),
            format!("{last_error}{}", self.log_tail()),
        ))
    }

    /// Sends SIGTERM and waits for the process to drain and exit; kills it after `patience`.
    pub async fn stop(mut self, patience: Duration) -> Result<std::process::ExitStatus, DevError> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(status) => status.map_err(|e| DevError::Io(PathBuf::from(&self.name), e)),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(DevError::NotReady(
                    self.name.clone(),
                    format!("did not stop within {patience:?}"),
                ))
            }
        }
    }

    fn log_tail(&self) -> String {
        match &self.log_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "\n--- last lines of {} ---\n{}",
                    path.display(),
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            }
            None => String::new(),
        }
    }
}

/// A command with a clean environment plus `env`, killed if its handle is dropped.
pub fn command(binary: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .kill_on_drop(true)
        .stdin(Stdio::null());
    for keep in ["PATH", "HOME", "LANG", "TZ"] {
        if let Some(value) = std::env::var_os(keep) {
            command.env(keep, value);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

async fn prefix_lines(name: String, stream: impl tokio::io::AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        #[allow(clippy::print_stdout)]
        {
            println!("[{name:>12}] {line}");
        }
    }
}
