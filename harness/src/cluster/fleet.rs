//! The load generator's clients: each with its own certificate and a connection to every replica, sharing a
//! few UDP sockets. Used against the in-process cluster and against replica processes alike.

use super::client_task::{ClientEnd, ClientTask, Schedule};
use super::ClusterError;
use crate::metrics::Metrics;
use crate::net::addr::PeerAddr;
use crate::net::inject::{Delayer, Regions, WanSender};
use crate::net::tls::{self, Credentials, Identity};
use crate::net::transport::{Transport, INBOX};
use crate::net::{dial_endpoint, NetError};
use crate::sim::{replicas_by_distance, SimSpec};
use crate::wan::LinkModel;
use paxos_variants::{Client, ClientId, ClientSetup, DetRng, NodeId, Peer, Variant};
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Clients that share one UDP socket (each still has its own connections and certificate).
const CLIENTS_PER_ENDPOINT: usize = 16;

pub struct Fleet<V: Variant> {
    /// Client ids, in the order of `nets`.
    pub ids: Vec<ClientId>,
    pub nets: Vec<Transport<V::Msg>>,
    inboxes: Vec<mpsc::Receiver<(Peer, V::Msg)>>,
    endpoints: Vec<quinn::Endpoint>,
}

/// What the clients did.
pub struct FleetEnd {
    pub metrics: Metrics,
    /// Per client (in fleet order): the history records.
    pub ends: Vec<ClientEnd>,
    pub pending: usize,
    pub wan_dropped: u64,
    pub wan_duplicated: u64,
}

impl<V: Variant> Fleet<V> {
    /// Makes the clients' transports and dials every replica.
    pub fn dial(
        ca: &CertificateDer<'static>,
        clients: Vec<(ClientId, Credentials)>,
        replicas: &[PeerAddr],
    ) -> Result<Fleet<V>, ClusterError> {
        let lo = SocketAddr::from(([127, 0, 0, 1], 0));
        let any = match replicas.first() {
            Some(PeerAddr::Ip(SocketAddr::V6(_))) => SocketAddr::from(([0u16; 8], 0)),
            Some(a) if !a.is_loopback_ip() => SocketAddr::from(([0, 0, 0, 0], 0)),
            _ => lo,
        };
        let mut endpoints = Vec::new();
        for _ in 0..clients.len().div_ceil(CLIENTS_PER_ENDPOINT) {
            endpoints.push(dial_endpoint(any).map_err(ClusterError::Net)?);
        }
        let mut ids = Vec::new();
        let mut nets = Vec::new();
        let mut inboxes = Vec::new();
        for (i, (id, creds)) in clients.into_iter().enumerate() {
            let cfg = tls::client_config(ca, &creds).map_err(NetError::from)?;
            let (tx, rx) = mpsc::channel(INBOX);
            let mut t =
                Transport::<V::Msg>::new(endpoints[i / CLIENTS_PER_ENDPOINT].clone(), cfg, tx);
            for (r, addr) in replicas.iter().enumerate() {
                t.dial(Identity::Replica(r as u32), addr.clone());
            }
            ids.push(id);
            nets.push(t);
            inboxes.push(rx);
        }
        Ok(Fleet {
            ids,
            nets,
            inboxes,
            endpoints,
        })
    }

    /// Which client-to-replica connections are not up yet.
    pub fn missing(&self, replicas: usize) -> Vec<String> {
        let mut missing = Vec::new();
        for (id, t) in self.ids.iter().zip(&self.nets) {
            for r in 0..replicas as u32 {
                if !t.connected(Identity::Replica(r)) {
                    missing.push(format!("client {} -> replica {r}", id.0));
                }
            }
        }
        missing
    }

    /// Runs every client's load from `epoch` until it stops by itself (drained, or at the schedule's end).
    pub async fn drive(
        &mut self,
        spec: &SimSpec,
        regions: &Arc<Regions>,
        delayer: &Delayer,
        epoch: Instant,
        schedule: Schedule,
    ) -> Result<FleetEnd, ClusterError> {
        let n = spec.topology.n();
        let links = LinkModel::new(&spec.network);
        let injected = if schedule.inject {
            links.clone()
        } else {
            LinkModel::new(&spec.network.quiet())
        };
        let workload = crate::load::Workload::new(spec.load.clone());
        let mut jobs = Vec::with_capacity(self.ids.len());
        for (i, inbox) in std::mem::take(&mut self.inboxes).into_iter().enumerate() {
            let id = self.ids[i];
            let region = regions.of(Peer::Client(id));
            let setup = ClientSetup {
                id,
                quorums: spec.quorums.clone(),
                initial_leader: NodeId(spec.topology.leader as u32),
                by_distance: replicas_by_distance(&links, &spec.topology, region),
                retry: spec.client_retry,
                reads: spec.reads.path,
            };
            let sender = WanSender::new(
                Peer::Client(id),
                n,
                regions.clone(),
                injected.clone(),
                DetRng::derive(spec.seed, 3_000_000 + id.0 as u64),
                delayer.clone(),
                Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing)),
                epoch,
            );
            let task = ClientTask::<V> {
                id,
                proto: V::Client::new(setup),
                inbox,
                sender,
                links: self.nets[i].link_finder(),
                workload: workload.clone(),
                rng: DetRng::derive(spec.seed, 1_000_000 + id.0 as u64),
                schedule,
            };
            jobs.push(tokio::spawn(task.run()));
        }
        let mut out = FleetEnd {
            metrics: Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing)),
            ends: Vec::with_capacity(jobs.len()),
            pending: 0,
            wan_dropped: 0,
            wan_duplicated: 0,
        };
        for job in jobs {
            let end = job.await.map_err(|e| ClusterError::Task(e.to_string()))?;
            out.metrics.merge(&end.sender.metrics);
            out.wan_dropped += end.sender.dropped;
            out.wan_duplicated += end.sender.duplicated;
            out.pending += end.pending;
            out.ends.push(end);
        }
        Ok(out)
    }

    /// Closes every client connection.
    pub async fn shutdown(self, totals: &mut super::NetTotals) {
        for t in self.nets {
            super::add(totals, &t.stats);
            t.shutdown().await;
        }
        for ep in self.endpoints {
            ep.close(quinn::VarInt::from_u32(0), b"done");
        }
    }
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}
