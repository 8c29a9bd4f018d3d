//! Lossless conversion between Fluvio's SPU types and the tool's model.

use fluvio_controlplane_metadata::spu::{
    CustomSpuSpec, EncryptionEnum, Endpoint as FlvEndpoint, IngressAddr as FlvIngressAddr,
    IngressPort, SpuSpec as FlvSpuSpec, SpuStatus, SpuStatusResolution, SpuType,
};

use fluvio_controlplane_metadata::partition::{
    PartitionResolution, PartitionSpec, PartitionStatus, ReplicaStatus,
};

use crate::model::{
    Encryption, Endpoint, Ingress, IngressAddr, LivePartition, LiveSpu, ReplicaOffsets, SpuKind,
    SpuSpec, SpuState,
};

fn encryption(e: &EncryptionEnum) -> Encryption {
    match e {
        EncryptionEnum::PLAINTEXT => Encryption::Plaintext,
        EncryptionEnum::SSL => Encryption::Ssl,
    }
}

fn flv_encryption(e: Encryption) -> EncryptionEnum {
    match e {
        Encryption::Plaintext => EncryptionEnum::PLAINTEXT,
        Encryption::Ssl => EncryptionEnum::SSL,
    }
}

fn endpoint(e: FlvEndpoint) -> Endpoint {
    Endpoint {
        encryption: encryption(&e.encryption),
        host: e.host,
        port: e.port,
    }
}

fn flv_endpoint(e: &Endpoint) -> FlvEndpoint {
    FlvEndpoint {
        host: e.host.clone(),
        port: e.port,
        encryption: flv_encryption(e.encryption),
    }
}

/// A Fluvio spec (of either kind) as the model's spec.
pub fn spec_from_fluvio(name: &str, spec: &FlvSpuSpec) -> SpuSpec {
    spec_into_model(name.to_string(), spec.clone())
}

/// [`spec_from_fluvio`], moving the strings instead of copying them (a listed cluster's
/// thousands of specs are converted once and dropped).
pub fn spec_into_model(name: String, spec: FlvSpuSpec) -> SpuSpec {
    SpuSpec {
        name,
        id: spec.id,
        kind: match spec.spu_type {
            SpuType::Custom => SpuKind::Custom,
            SpuType::Managed => SpuKind::Managed,
        },
        public: Ingress {
            port: spec.public_endpoint.port,
            encryption: encryption(&spec.public_endpoint.encryption),
            addrs: spec
                .public_endpoint
                .ingress
                .into_iter()
                .map(|a| IngressAddr {
                    hostname: a.hostname,
                    ip: a.ip,
                })
                .collect(),
        },
        private: endpoint(spec.private_endpoint),
        rack: spec.rack,
        local: spec.public_endpoint_local.map(endpoint),
    }
}

pub fn state_from_fluvio(status: &SpuStatus) -> SpuState {
    match status.resolution {
        SpuStatusResolution::Online => SpuState::Online,
        SpuStatusResolution::Offline => SpuState::Offline,
        SpuStatusResolution::Init => SpuState::Init,
    }
}

pub fn live_from_fluvio(name: &str, spec: &FlvSpuSpec, status: &SpuStatus) -> LiveSpu {
    live_into_model(name.to_string(), spec.clone(), status)
}

/// [`live_from_fluvio`], moving the name and the spec's strings.
pub fn live_into_model(name: String, spec: FlvSpuSpec, status: &SpuStatus) -> LiveSpu {
    LiveSpu {
        spec: spec_into_model(name, spec).into(),
        status: state_from_fluvio(status),
    }
}

fn offsets(r: &ReplicaStatus) -> ReplicaOffsets {
    ReplicaOffsets {
        spu: r.spu,
        hw: r.hw,
        leo: r.leo,
    }
}

/// A listed partition (`<topic>-<index>`) as the model's.
pub fn partition_into_model(
    name: String,
    spec: &PartitionSpec,
    status: &PartitionStatus,
) -> LivePartition {
    LivePartition {
        name,
        leader: spec.leader,
        replicas: spec.replicas.clone(),
        online: status.resolution == PartitionResolution::Online,
        leader_offsets: offsets(&status.leader),
        follower_offsets: status.replicas.iter().map(offsets).collect(),
    }
}

/// The model's spec as Fluvio's full `SpuSpec` (for the metadata store).
pub fn spec_to_fluvio(spec: &SpuSpec) -> FlvSpuSpec {
    FlvSpuSpec {
        id: spec.id,
        spu_type: match spec.kind {
            SpuKind::Custom => SpuType::Custom,
            SpuKind::Managed => SpuType::Managed,
        },
        public_endpoint: IngressPort {
            port: spec.public.port,
            ingress: spec
                .public
                .addrs
                .iter()
                .map(|a| FlvIngressAddr {
                    hostname: a.hostname.clone(),
                    ip: a.ip.clone(),
                })
                .collect(),
            encryption: flv_encryption(spec.public.encryption),
        },
        private_endpoint: flv_endpoint(&spec.private),
        rack: spec.rack.clone(),
        public_endpoint_local: spec.local.as_ref().map(flv_endpoint),
    }
}

/// The model's spec as the `CustomSpuSpec` that create takes. Built from the model, never
/// from a Fluvio `SpuSpec` of unknown kind, whose conversion panics for Managed SPUs.
pub fn custom_spec(spec: &SpuSpec) -> CustomSpuSpec {
    let full = spec_to_fluvio(spec);
    CustomSpuSpec {
        id: full.id,
        public_endpoint: full.public_endpoint,
        private_endpoint: full.private_endpoint,
        rack: full.rack,
        public_endpoint_local: full.public_endpoint_local,
    }
}

/// An SPU as Fluvio's own `spu list -O json` shows it: `{name, spec, status}` with Fluvio's
/// field names (`spuId`, `publicEndpoint`, `publicEndpointLocal`, ...), through a tree of
/// values whose objects sort their keys.
pub fn fluvio_json(spu: &LiveSpu) -> serde_json::Value {
    let status = SpuStatus {
        resolution: match spu.status {
            SpuState::Online => SpuStatusResolution::Online,
            SpuState::Offline => SpuStatusResolution::Offline,
            SpuState::Init => SpuStatusResolution::Init,
        },
    };
    serde_json::json!({
        "name": spu.spec.name,
        "spec": spec_to_fluvio(&spu.spec),
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let flv = FlvSpuSpec {
            id: 5001,
            spu_type: SpuType::Custom,
            public_endpoint: IngressPort {
                port: 9010,
                ingress: vec![
                    FlvIngressAddr {
                        hostname: Some("a.example".into()),
                        ip: None,
                    },
                    FlvIngressAddr {
                        hostname: None,
                        ip: Some("10.1.2.3".into()),
                    },
                    FlvIngressAddr {
                        hostname: Some("both".into()),
                        ip: Some("10.1.2.4".into()),
                    },
                ],
                encryption: EncryptionEnum::SSL,
            },
            private_endpoint: FlvEndpoint {
                host: "p".into(),
                port: 9011,
                encryption: EncryptionEnum::SSL,
            },
            rack: Some("r1".into()),
            public_endpoint_local: Some(FlvEndpoint {
                host: "[::1]".into(),
                port: 1,
                encryption: EncryptionEnum::PLAINTEXT,
            }),
        };
        let model = spec_from_fluvio("n", &flv);
        assert_eq!(spec_to_fluvio(&model), flv);
        assert_eq!(FlvSpuSpec::from(custom_spec(&model)), flv);
    }
}
