//! A Docker Compose project for one experiment: N replica containers, each at a fixed address on a private
//! network (the cluster file's addresses), with its write-ahead log on a volume of its own and a health check;
//! K load-generator containers, each running one share of the clients (`run --client-share`), behind the
//! replicas' health; and a merge container that adds the shares and checks their history against the replicas
//! (`merge --cluster`). Profiles keep them apart: `up` starts the replicas, `--profile load` the load, and
//! `run --rm merge` the merge.

use super::{put, DeployError, Plan};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The port every replica listens on inside its container, and the health endpoint's.
pub const REPLICA_PORT: u16 = 7100;
pub const HEALTH_PORT: u16 = 8080;
/// The first replica's host number in the subnet.
const FIRST_HOST: u8 = 10;

pub struct ComposeOptions {
    pub image: String,
    /// The private network, `A.B.C.0/24`.
    pub subnet: Ipv4Addr,
}

/// Parses `A.B.C.0/24`, the form of private network a project gets.
pub fn parse_subnet(s: &str) -> Result<Ipv4Addr, String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a subnet like 172.28.0.0/24"))?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("`{ip}` in `{s}` is not an IPv4 address"))?;
    if len != "24" || ip.octets()[3] != 0 {
        return Err(format!(
            "`{s}`: give a /24 that ends in .0, such as 172.28.0.0/24"
        ));
    }
    if !ip.is_private() {
        return Err(format!(
            "`{s}` is not a private range (10/8, 172.16/12, 192.168/16): the project's network must not shadow a \
             public one"
        ));
    }
    Ok(ip)
}

/// Replica `id`'s address on the project's network.
pub fn replica_ip(subnet: Ipv4Addr, id: usize) -> Ipv4Addr {
    let [a, b, c, _] = subnet.octets();
    Ipv4Addr::new(a, b, c, FIRST_HOST + id as u8)
}

/// What [`render`] wrote.
pub struct Rendered {
    pub compose_file: PathBuf,
    pub cluster_file: PathBuf,
    pub files: usize,
}

/// Writes the project into `out`: `docker-compose.yml`, `cluster/` (experiment, cluster file, keys) and an
/// empty `results/`.
pub fn render(plan: &Plan, opts: &ComposeOptions, out: &Path) -> Result<Rendered, DeployError> {
    if plan.replicas + FIRST_HOST as usize > 250 {
        return Err(DeployError::Unsuited {
            file: plan.file.clone(),
            message: format!("{} replicas do not fit one /24 network", plan.replicas),
        });
    }
    let cluster_dir = out.join("cluster");
    let mut files = 0;
    put(&cluster_dir.join("experiment.toml"), plan.text.as_bytes())?;
    files += 1;
    let keys = crate::net::tls::write_keys(
        &cluster_dir.join("keys"),
        plan.replicas as u32,
        plan.control_client() as u32 + 1,
    )
    .map_err(|e| DeployError::Keys(e.to_string()))?;
    files += keys.len();
    let mut cluster = format!(
        "# Rendered by `paxos-bench deploy render {}`: the replicas' addresses on the project's network.\n\
         experiment = \"experiment.toml\"\nvariant = \"{}\"\nca = \"keys/ca.crt\"\nclient_keys = \"keys\"\n",
        plan.file.display(),
        plan.label()
    );
    for id in 0..plan.replicas {
        let _ = write!(
            cluster,
            "\n[[replica]]\nid = {id}\naddr = \"{}:{REPLICA_PORT}\"\ncert = \"keys/replica-{id}.crt\"\n\
             key = \"keys/replica-{id}.key\"\nwal = \"/data/replica-{id}.wal\"\n",
            replica_ip(opts.subnet, id)
        );
    }
    let cluster_file = cluster_dir.join("cluster.toml");
    put(&cluster_file, cluster.as_bytes())?;
    files += 1;
    let results = out.join("results");
    std::fs::create_dir_all(&results).map_err(|source| DeployError::Write {
        path: results.clone(),
        source,
    })?;
    let compose_file = out.join("docker-compose.yml");
    put(&compose_file, compose_yaml(plan, opts).as_bytes())?;
    files += 1;
    Ok(Rendered {
        compose_file,
        cluster_file,
        files,
    })
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The Compose file. Hand-written YAML: every value is a name, number or path this function makes.
pub fn compose_yaml(plan: &Plan, opts: &ComposeOptions) -> String {
    let n = plan.replicas;
    let k = plan.load_generators;
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Rendered by `paxos-bench deploy render {}`; render again rather than edit.\n\
         # docker-compose up -d                      the {n} replicas (wait for them to be healthy)\n\
         # docker-compose --profile load up          the {k} load generators, {} clients in all\n\
         # docker-compose run --rm merge             add their shares, check the history, write results/merged\n\
         # docker-compose down -v                    remove the containers, the network and the logs' volumes\n\
         # Containers run as ${{PAXOS_USER:-10001:10001}}: cluster/ must be readable and results/ writable by it.\n",
        plan.file.display(),
        plan.clients
    );
    y.push_str("services:\n");
    let user = "\"${PAXOS_USER:-10001:10001}\"";
    for id in 0..n {
        let cmd = list(&[
            "node".into(),
            "--cluster".into(),
            "/cluster/cluster.toml".into(),
            "--id".into(),
            id.to_string(),
            "--health".into(),
            format!("0.0.0.0:{HEALTH_PORT}"),
        ]);
        let _ = writeln!(
            y,
            "  replica-{id}:\n    image: {image}\n    user: {user}\n    command: {cmd}\n    volumes:\n      \
             - ./cluster:/cluster:ro\n      - wal-{id}:/data\n    networks:\n      paxos:\n        ipv4_address: \
             {ip}\n    stop_grace_period: 5s\n    restart: \"no\"",
            image = opts.image,
            ip = replica_ip(opts.subnet, id)
        );
    }
    let depends: String = (0..n)
        .map(|id| format!("      replica-{id}:\n        condition: service_healthy\n"))
        .collect();
    let share_dirs: Vec<String> = (0..k).map(|i| format!("/results/share-{i}")).collect();
    for i in 0..k {
        let cmd = list(&[
            "run".into(),
            "/cluster/experiment.toml".into(),
            "--cluster".into(),
            "/cluster/cluster.toml".into(),
            "--client-share".into(),
            format!("{i}/{k}"),
            "--out".into(),
            share_dirs[i as usize].clone(),
        ]);
        let _ = writeln!(
            y,
            "  loadgen-{i}:\n    image: {image}\n    user: {user}\n    command: {cmd}\n    volumes:\n      \
             - ./cluster:/cluster:ro\n      - ./results:/results\n    networks:\n      - paxos\n    \
             healthcheck:\n      disable: true\n    profiles: [\"load\"]\n    restart: \"no\"\n    depends_on:\n{depends}",
            image = opts.image,
        );
    }
    let mut merge = vec!["merge".to_string()];
    merge.extend(share_dirs.iter().cloned());
    merge.extend([
        "--cluster".into(),
        "/cluster/cluster.toml".into(),
        "--client".into(),
        plan.control_client().to_string(),
        "--out".into(),
        "/results/merged".into(),
    ]);
    let status = list(&[
        "status".into(),
        "--cluster".into(),
        "/cluster/cluster.toml".into(),
        "--client".into(),
        plan.control_client().to_string(),
    ]);
    for (name, cmd) in [("merge", list(&merge)), ("status", status)] {
        let _ = writeln!(
            y,
            "  {name}:\n    image: {image}\n    user: {user}\n    command: {cmd}\n    volumes:\n      \
             - ./cluster:/cluster:ro\n      - ./results:/results\n    networks:\n      - paxos\n    \
             healthcheck:\n      disable: true\n    profiles: [\"tools\"]\n    restart: \"no\"",
            image = opts.image,
        );
    }
    y.push_str("volumes:\n");
    for id in 0..n {
        let _ = writeln!(y, "  wal-{id}: {{}}");
    }
    let _ = write!(
        y,
        "networks:\n  paxos:\n    ipam:\n      config:\n        - subnet: {}/24\n",
        opts.subnet
    );
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"name = "c"
mode = "quic"
storage = "wal"
duration_s = 5
seeds = [1]
[cluster]
replicas = ["a", "a", "b"]
clients = ["a"]
leader = 0
[network]
local_ms = 0.2
[[network.link]]
between = ["a", "b"]
ms = 2.0
[load]
mode = "closed"
clients = [6]
[[variant]]
name = "multi"
"#;

    fn plan_of(text: &str, variant: Option<&str>, k: u32) -> Result<Plan, DeployError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Plan::load(&path, variant, k)
    }

    #[test]
    fn the_compose_file_places_every_replica_share_and_merge() {
        let plan = plan_of(CONFIG, None, 3).unwrap();
        let opts = ComposeOptions {
            image: "img:1".into(),
            subnet: parse_subnet("10.9.8.0/24").unwrap(),
        };
        let y = compose_yaml(&plan, &opts);
        for id in 0..3 {
            assert!(y.contains(&format!("  replica-{id}:\n")), "{y}");
            assert!(
                y.contains(&format!("ipv4_address: 10.9.8.{}\n", 10 + id)),
                "{y}"
            );
            assert!(y.contains(&format!("- wal-{id}:/data")), "{y}");
        }
        assert!(!y.contains("replica-3:"), "{y}");
        for i in 0..3 {
            assert!(y.contains(&format!("\"--client-share\", \"{i}/3\"")), "{y}");
        }
        assert!(
            y.contains("\"merge\", \"/results/share-0\", \"/results/share-1\", \"/results/share-2\", \"--cluster\""),
            "{y}"
        );
        // Control requests use the certificate one past the load's six clients.
        assert!(y.contains("\"--client\", \"6\""), "{y}");
        assert!(y.contains("- subnet: 10.9.8.0/24"), "{y}");
        assert_eq!(y.matches("condition: service_healthy").count(), 3 * 3);
    }

    #[test]
    fn rendering_writes_a_cluster_file_that_loads_with_its_keys() {
        let plan = plan_of(CONFIG, None, 2).unwrap();
        let out = tempfile::tempdir().unwrap();
        let opts = ComposeOptions {
            image: "img".into(),
            subnet: parse_subnet("172.30.1.0/24").unwrap(),
        };
        let done = render(&plan, &opts, out.path()).unwrap();
        let spec = crate::config::cluster::load_cluster(&done.cluster_file).unwrap();
        let addrs: Vec<String> = spec.replicas.iter().map(|r| r.addr.to_string()).collect();
        assert_eq!(
            addrs,
            ["172.30.1.10:7100", "172.30.1.11:7100", "172.30.1.12:7100"]
        );
        assert_eq!(spec.replicas[2].wal, PathBuf::from("/data/replica-2.wal"));
        // Six load clients and the control client.
        assert!(spec.client_files(6).0.is_file());
        assert!(!spec.client_files(7).0.exists());
    }

    #[test]
    fn configs_a_deployment_cannot_run_are_refused_with_the_reason() {
        let two_counts = CONFIG.replace("clients = [6]", "clients = [1, 6]");
        let e = plan_of(&two_counts, None, 2).err().unwrap().to_string();
        assert!(e.contains("plans 2 runs"), "{e}");
        let two_variants = format!("{CONFIG}[[variant]]\nname = \"raft\"\n");
        let e = plan_of(&two_variants, None, 2).err().unwrap().to_string();
        assert!(e.contains("--variant"), "{e}");
        assert!(plan_of(&two_variants, Some("raft"), 2).is_ok());
        let e = plan_of(&two_variants, Some("nope"), 2)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("multi, raft"), "{e}");
        let e = plan_of(CONFIG, None, 7).err().unwrap().to_string();
        assert!(e.contains("between 1 and 6"), "{e}");
        let both = CONFIG.replace("storage = \"wal\"", "storage = [\"memory\", \"wal\"]");
        let e = plan_of(&both, None, 2).err().unwrap().to_string();
        assert!(e.contains("several storages"), "{e}");
        assert!(parse_subnet("8.8.8.0/24").unwrap_err().contains("private"));
        assert!(parse_subnet("10.0.0.0/16").unwrap_err().contains("/24"));
    }
}
