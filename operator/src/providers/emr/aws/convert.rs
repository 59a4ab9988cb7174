//! Conversions between the domain types of [`super::super::api`] and the
//! AWS SDK's types.
//!
//! Pure.

use aws_sdk_emr::{primitives::DateTime, types as t};
use jiff::Timestamp;

use super::super::api::{ClusterSpec, ConfigurationSpec, FleetRole, StepState};

pub(super) fn timestamp(t: Option<&DateTime>) -> Option<Timestamp> {
    let t = t?;
    Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).unwrap_or(0)).ok()
}

pub(super) fn datetime(t: Timestamp) -> DateTime {
    DateTime::from_secs(t.as_second())
}

pub(super) fn configuration(c: &ConfigurationSpec) -> t::Configuration {
    t::Configuration::builder()
        .classification(&c.classification)
        .set_properties((!c.properties.is_empty()).then(|| c.properties.clone().into_iter().collect()))
        .set_configurations((!c.nested.is_empty()).then(|| c.nested.iter().map(configuration).collect()))
        .build()
}

/// The `Instances` of a `RunJobFlow` request.
pub(super) fn instances(spec: &ClusterSpec) -> t::JobFlowInstancesConfig {
    let fleets = spec.fleets.iter().map(|f| {
        let kind = match f.role {
            FleetRole::Primary => t::InstanceFleetType::Master,
            FleetRole::Core => t::InstanceFleetType::Core,
            FleetRole::Task => t::InstanceFleetType::Task,
        };
        let mut config = t::InstanceFleetConfig::builder()
            .name(kind.as_str().to_lowercase())
            .instance_fleet_type(kind)
            .target_on_demand_capacity(f.on_demand)
            .target_spot_capacity(f.spot)
            .set_instance_type_configs(Some(
                f.instance_types
                    .iter()
                    .map(|i| {
                        t::InstanceTypeConfig::builder()
                            .instance_type(i)
                            .weighted_capacity(1)
                            .build()
                    })
                    .collect(),
            ));
        if let Some(spot) = spec.spot.as_ref().filter(|_| f.spot > 0) {
            config = config.launch_specifications(
                t::InstanceFleetProvisioningSpecifications::builder()
                    .spot_specification(
                        t::SpotProvisioningSpecification::builder()
                            .timeout_duration_minutes(spot.timeout_minutes)
                            .timeout_action(t::SpotProvisioningTimeoutAction::from(spot.timeout_action))
                            .allocation_strategy(t::SpotProvisioningAllocationStrategy::from(spot.allocation_strategy))
                            .build(),
                    )
                    .build(),
            );
        }
        config.build()
    });
    t::JobFlowInstancesConfig::builder()
        .set_instance_fleets(Some(fleets.collect()))
        .set_ec2_subnet_ids((!spec.subnet_ids.is_empty()).then(|| spec.subnet_ids.clone()))
        .keep_job_flow_alive_when_no_steps(spec.keep_alive)
        .build()
}

pub(super) fn step_state(state: Option<&t::StepState>) -> StepState {
    match state {
        Some(t::StepState::Pending) | None => StepState::Pending,
        Some(t::StepState::CancelPending) => StepState::CancelPending,
        Some(t::StepState::Running) => StepState::Running,
        Some(t::StepState::Completed) => StepState::Completed,
        Some(t::StepState::Cancelled) => StepState::Cancelled,
        Some(t::StepState::Interrupted) => StepState::Interrupted,
        Some(_) => StepState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::emr::api::{FleetSpec, SpotSpec};

    /// Unit test (pure, SDK types, no AWS): the instance fleets of the
    /// RunJobFlow request, which moto accepts but ignores.
    #[test]
    fn fleets_carry_capacities_and_the_spot_specification() {
        let spec = ClusterSpec {
            name: "c".into(),
            release_label: "emr-7.5.0".into(),
            applications: vec![],
            service_role: "r".into(),
            instance_profile: "p".into(),
            subnet_ids: vec!["subnet-a".into()],
            log_uri: None,
            fleets: vec![
                FleetSpec {
                    role: FleetRole::Primary,
                    instance_types: vec!["m5.xlarge".into()],
                    on_demand: 1,
                    spot: 0,
                },
                FleetSpec {
                    role: FleetRole::Core,
                    instance_types: vec!["r5.xlarge".into(), "r6i.xlarge".into()],
                    on_demand: 0,
                    spot: 4,
                },
            ],
            spot: Some(SpotSpec {
                allocation_strategy: "price-capacity-optimized",
                timeout_minutes: 10,
                timeout_action: "SWITCH_TO_ON_DEMAND",
            }),
            configurations: vec![],
            bootstrap_actions: vec![],
            keep_alive: true,
            step_concurrency: 4,
            auto_termination_idle_seconds: 1200,
            tags: Default::default(),
        };
        let got = instances(&spec);
        assert_eq!(got.keep_job_flow_alive_when_no_steps(), Some(true));
        assert_eq!(got.ec2_subnet_ids(), ["subnet-a"]);
        let fleets = got.instance_fleets();
        assert_eq!(fleets.len(), 2);
        assert_eq!(fleets[0].instance_fleet_type(), Some(&t::InstanceFleetType::Master));
        assert_eq!(
            (fleets[0].target_on_demand_capacity(), fleets[0].target_spot_capacity()),
            (Some(1), Some(0))
        );
        assert!(
            fleets[0].launch_specifications().is_none(),
            "no spot capacity, no spot specification"
        );
        assert_eq!(fleets[1].instance_fleet_type(), Some(&t::InstanceFleetType::Core));
        assert_eq!(
            (fleets[1].target_on_demand_capacity(), fleets[1].target_spot_capacity()),
            (Some(0), Some(4))
        );
        let types: Vec<_> = fleets[1]
            .instance_type_configs()
            .iter()
            .map(|c| (c.instance_type(), c.weighted_capacity()))
            .collect();
        assert_eq!(types, vec![(Some("r5.xlarge"), Some(1)), (Some("r6i.xlarge"), Some(1))]);
        let spot = fleets[1]
            .launch_specifications()
            .and_then(|l| l.spot_specification())
            .expect("spot specification");
        assert_eq!(spot.timeout_duration_minutes(), Some(10));
        assert_eq!(
            spot.timeout_action(),
            Some(&t::SpotProvisioningTimeoutAction::SwitchToOnDemand)
        );
        assert_eq!(
            spot.allocation_strategy(),
            Some(&t::SpotProvisioningAllocationStrategy::PriceCapacityOptimized)
        );
    }

    #[test]
    fn nested_configurations_and_timestamps() {
        let c = configuration(&ConfigurationSpec {
            classification: "spark-env".into(),
            properties: Default::default(),
            nested: vec![ConfigurationSpec {
                classification: "export".into(),
                properties: [("A".to_owned(), "1".to_owned())].into_iter().collect(),
                nested: vec![],
            }],
        });
        assert_eq!(c.classification(), Some("spark-env"));
        assert!(c.properties().is_none());
        assert_eq!(
            c.configurations()[0]
                .properties()
                .and_then(|p| p.get("A"))
                .map(String::as_str),
            Some("1")
        );
        let t = Timestamp::from_second(1_800_000_000).expect("ts");
        assert_eq!(timestamp(Some(&datetime(t))), Some(t));
        assert_eq!(step_state(Some(&t::StepState::Interrupted)), StepState::Interrupted);
    }
}
