//! The rendered overlay, read the way the kubelet reads it: Deployments with their
//! containers (command, arguments, environment with ConfigMap values resolved, ports,
//! probes, mounts), Services, and the CloudNativePG objects. Anything the rehearsal cannot
//! interpret fails loudly, so that a manifest change never slips past it unread.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// Every object of `kubectl kustomize <overlay>`.
pub struct Rendered {
    objects: Vec<Value>,
}

impl Rendered {
    /// Renders the overlay in `dir` with `kubectl kustomize`.
    pub fn overlay(dir: &Path) -> Rendered {
        let output = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("kubectl kustomize (is kubectl installed?): {e}"));
        assert!(
            output.status.success(),
            "kubectl kustomize {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).expect("UTF-8 manifests");
        let objects = serde_yaml_ng::Deserializer::from_str(&text)
            .map(|document| Value::deserialize(document).expect("a YAML document"))
            .filter(|object| !object.is_null())
            .collect();
        Rendered { objects }
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| o["kind"] == kind)
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    /// How many objects of each kind.
    pub fn census(&self) -> BTreeMap<String, usize> {
        let mut census = BTreeMap::new();
        for object in &self.objects {
            *census.entry(text(&object["kind"])).or_default() += 1;
        }
        census
    }

    /// A ConfigMap's data.
    pub fn config_map(&self, name: &str) -> BTreeMap<String, String> {
        let map = self
            .named("ConfigMap", name)
            .unwrap_or_else(|| panic!("ConfigMap {name} is referenced but not rendered"));
        map["data"]
            .as_object()
            .map(|data| data.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default()
    }

    /// Every Deployment, read.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.of_kind("Deployment")
            .map(|d| Deployment::read(self, d))
            .collect()
    }

    /// A Service by name.
    pub fn service(&self, name: &str) -> Option<Service> {
        self.named("Service", name).map(Service::read)
    }

    /// The CloudNativePG cluster, if the overlay has one.
    pub fn postgres_cluster(&self) -> Option<PostgresCluster> {
        let cluster = self.of_kind("Cluster").next()?;
        let name = text(&cluster["metadata"]["name"]);
        let roles = cluster["spec"]["managed"]["roles"]
            .as_array()
            .map(|roles| {
                roles
                    .iter()
                    .map(|r| (text(&r["name"]), text(&r["passwordSecret"]["name"])))
                    .collect()
            })
            .unwrap_or_default();
        let database = self
            .of_kind("Database")
            .find(|d| d["spec"]["cluster"]["name"] == name.as_str())
            .expect("a Database of the cluster");
        let schemas = database["spec"]["schemas"]
            .as_array()
            .map(|schemas| {
                schemas
                    .iter()
                    .map(|s| (text(&s["name"]), text(&s["owner"])))
                    .collect()
            })
            .unwrap_or_default();
        Some(PostgresCluster {
            name,
            database: text(&database["spec"]["name"]),
            roles,
            schemas,
        })
    }
}

/// A CloudNativePG `Cluster` and its `Database`.
pub struct PostgresCluster {
    /// The cluster's name; the operator's Services and CA Secret are named after it.
    pub name: String,
    /// The database's name.
    pub database: String,
    /// Managed login roles: name → password Secret.
    pub roles: BTreeMap<String, String>,
    /// Schemas: name → owner.
    pub schemas: BTreeMap<String, String>,
}

/// A Deployment as its pods would run.
pub struct Deployment {
    pub name: String,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub termination_grace_seconds: u64,
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
    /// Volume name → the Secret it projects (every volume of the suite is a Secret).
    pub secret_volumes: BTreeMap<String, SecretVolume>,
}

/// A Secret mounted as files.
pub struct SecretVolume {
    pub secret: String,
    /// Keys projected, as (key, path in the volume).
    pub items: Vec<(String, String)>,
}

/// A container as the kubelet would start it.
pub struct Container {
    pub name: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Its environment, ConfigMap references resolved, in the kubelet's order (`envFrom`
    /// first, then `env`, later entries winning).
    pub env: BTreeMap<String, String>,
    /// Port name → container port.
    pub ports: BTreeMap<String, u16>,
    pub startup: Option<GrpcProbe>,
    pub liveness: Option<GrpcProbe>,
    pub readiness: Option<GrpcProbe>,
    pub pre_stop_sleep_seconds: u64,
    /// Mount path → volume name.
    pub mounts: BTreeMap<String, String>,
}

/// A native gRPC probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcProbe {
    pub port: u16,
    /// The `grpc.health.v1` service name (`""`: the whole process).
    pub service: String,
}

impl Deployment {
    fn read(rendered: &Rendered, deployment: &Value) -> Deployment {
        let name = text(&deployment["metadata"]["name"]);
        let template = &deployment["spec"]["template"];
        let spec = &template["spec"];
        let containers = |key: &str| -> Vec<Container> {
            spec[key]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|c| Container::read(rendered, &name, c))
                        .collect()
                })
                .unwrap_or_default()
        };
        let secret_volumes = spec["volumes"]
            .as_array()
            .map(|volumes| {
                volumes
                    .iter()
                    .map(|v| {
                        let volume = text(&v["name"]);
                        let secret = v.get("secret").unwrap_or_else(|| {
                            panic!("{name}: volume {volume} is not a Secret; teach the rehearsal about it")
                        });
                        let items = secret["items"]
                            .as_array()
                            .map(|items| {
                                items
                                    .iter()
                                    .map(|i| (text(&i["key"]), text(&i["path"])))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (
                            volume,
                            SecretVolume {
                                secret: text(&secret["secretName"]),
                                items,
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Deployment {
            pod_labels: string_map(&template["metadata"]["labels"]),
            pod_annotations: string_map(&template["metadata"]["annotations"]),
            termination_grace_seconds: spec["terminationGracePeriodSeconds"].as_u64().unwrap_or(30),
            init_containers: containers("initContainers"),
            containers: containers("containers"),
            secret_volumes,
            name,
        }
    }

    /// The container named `server`, the suite's main container in every pod.
    pub fn server(&self) -> &Container {
        self.containers
            .iter()
            .find(|c| c.name == "server")
            .unwrap_or_else(|| panic!("{}: no container named server", self.name))
    }
}

impl Container {
    fn read(rendered: &Rendered, deployment: &str, container: &Value) -> Container {
        let name = text(&container["name"]);
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            let map = source["configMapRef"]["name"].as_str().unwrap_or_else(|| {
                panic!("{deployment}/{name}: envFrom other than a ConfigMap; teach the rehearsal about it")
            });
            env.extend(rendered.config_map(map));
        }
        for variable in container["env"].as_array().into_iter().flatten() {
            let key = text(&variable["name"]);
            let value = if let Some(value) = variable.get("value") {
                text(value)
            } else if let Some(reference) = variable["valueFrom"].get("configMapKeyRef") {
                let map = rendered.config_map(&text(&reference["name"]));
                map.get(&text(&reference["key"]))
                    .cloned()
                    .unwrap_or_else(|| panic!("{deployment}/{name}: {key} refers to a missing key"))
            } else {
                panic!(
                    "{deployment}/{name}: {key} is neither a value nor a ConfigMap key (Secrets are mounted as files)"
                )
            };
            env.insert(key, value);
        }
        let ports = container["ports"]
            .as_array()
            .map(|ports| {
                ports
                    .iter()
                    .map(|p| (text(&p["name"]), port(&p["containerPort"])))
                    .collect()
            })
            .unwrap_or_default();
        let mounts = container["volumeMounts"]
            .as_array()
            .map(|mounts| {
                mounts
                    .iter()
                    .map(|m| (text(&m["mountPath"]), text(&m["name"])))
                    .collect()
            })
            .unwrap_or_default();
        Container {
            command: strings(&container["command"]),
            args: strings(&container["args"]),
            env,
            ports,
            startup: GrpcProbe::read(&container["startupProbe"]),
            liveness: GrpcProbe::read(&container["livenessProbe"]),
            readiness: GrpcProbe::read(&container["readinessProbe"]),
            pre_stop_sleep_seconds: container["lifecycle"]["preStop"]["sleep"]["seconds"]
                .as_u64()
                .unwrap_or(0),
            mounts,
            name,
        }
    }
}

impl GrpcProbe {
    fn read(probe: &Value) -> Option<GrpcProbe> {
        if probe.is_null() {
            return None;
        }
        let grpc = probe
            .get("grpc")
            .unwrap_or_else(|| panic!("a probe that is not gRPC: {probe}"));
        Some(GrpcProbe {
            port: port(&grpc["port"]),
            service: grpc["service"].as_str().unwrap_or("").to_string(),
        })
    }
}

/// A Service.
pub struct Service {
    pub headless: bool,
    pub selector: BTreeMap<String, String>,
    /// (port, targetPort) with targetPort as written: a number or a port name.
    pub ports: Vec<(u16, String)>,
}

impl Service {
    fn read(service: &Value) -> Service {
        let spec = &service["spec"];
        Service {
            headless: spec["clusterIP"] == "None",
            selector: string_map(&spec["selector"]),
            ports: spec["ports"]
                .as_array()
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            let target = if p["targetPort"].is_null() {
                                p["port"].to_string()
                            } else {
                                text(&p["targetPort"])
                            };
                            (port(&p["port"]), target)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether the Service selects the pods of `deployment`.
    pub fn selects(&self, deployment: &Deployment) -> bool {
        !self.selector.is_empty()
            && self
                .selector
                .iter()
                .all(|(k, v)| deployment.pod_labels.get(k) == Some(v))
    }

    /// The container port that Service port `port` reaches on `container`.
    pub fn target(&self, port: u16, container: &Container) -> Option<u16> {
        let (_, target) = self.ports.iter().find(|(p, _)| *p == port)?;
        match target.parse::<u16>() {
            Ok(number) => Some(number),
            Err(_) => container.ports.get(target).copied(),
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| list.iter().map(text).collect())
        .unwrap_or_default()
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| map.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

fn port(value: &Value) -> u16 {
    value
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("not a port number: {value}"))
}
