use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// An event as EventBridge delivers it to an SQS target.
fn event(detail_type: &str, detail: &str) -> String {
    format!(
        r#"{{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"{detail_type}",
        "source":"aws.ec2","account":"123456789012","time":"2026-12-02T01:00:00Z","region":"us-east-1",
        "resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],"detail":{detail}}}"#
    )
}

#[test]
fn ec2_events_become_notices() {
    let warning = event(
        "EC2 Spot Instance Interruption Warning",
        r#"{"instance-id":"i-1","instance-action":"terminate"}"#,
    );
    let rebalance = event("EC2 Instance Rebalance Recommendation", r#"{"instance-id":"i-1"}"#);
    let stopping = event(
        "EC2 Instance State-change Notification",
        r#"{"instance-id":"i-1","state":"shutting-down"}"#,
    );
    let cases = [
        (warning.as_str(), NoticeKind::SpotWarning),
        (rebalance.as_str(), NoticeKind::Rebalance),
        (stopping.as_str(), NoticeKind::StateChange("shutting-down".into())),
    ];
    for (body, kind) in cases {
        assert_eq!(
            parse(body),
            Ok(Notice {
                instance: "i-1".into(),
                kind,
                at: at("2026-12-02T01:00:00Z"),
            })
        );
    }
}

#[test]
fn other_messages_say_why_they_are_not_read() {
    let cases = [
        ("hello", "not an EventBridge event"),
        (
            r#"{"source":"aws.s3","detail-type":"Object Created","detail":{}}"#,
            "an event from aws.s3, not aws.ec2",
        ),
        (
            &event("EC2 Fast Launch State-change Notification", r#"{"instance-id":"i-1"}"#),
            "an EC2 event the operator does not read (EC2 Fast Launch State-change Notification)",
        ),
        (
            &event("EC2 Instance State-change Notification", r#"{"instance-id":"i-1"}"#),
            "a state change without a state",
        ),
        (
            &event("EC2 Instance Rebalance Recommendation", "{}"),
            "an EC2 event without an instance-id",
        ),
    ];
    for (body, why) in cases {
        let got = parse(body).expect_err(body);
        assert!(got.starts_with(why), "{body}: {got}");
    }
}

#[test]
fn which_notices_move_runs() {
    let cases = [
        (NoticeKind::SpotWarning, true, true),
        (NoticeKind::Rebalance, false, true),
        (NoticeKind::StateChange("shutting-down".into()), true, true),
        (NoticeKind::StateChange("stopping".into()), true, true),
        (NoticeKind::StateChange("terminated".into()), true, true),
        (NoticeKind::StateChange("running".into()), false, false),
        (NoticeKind::StateChange("pending".into()), false, false),
    ];
    for (kind, interrupts, matters) in cases {
        assert_eq!(kind.interrupts_runs(), interrupts, "{kind:?}");
        assert_eq!(kind.matters(), matters, "{kind:?}");
    }
}

#[test]
fn a_record_reads_back() {
    let notice = Notice {
        instance: "i-1".into(),
        kind: NoticeKind::SpotWarning,
        at: at("2026-12-02T01:00:00Z"),
    };
    let record = notice.record();
    assert_eq!(record, "spot-interruption-warning 2026-12-02T01:00:00Z");
    assert_eq!(
        read_record(&record),
        Some(("spot-interruption-warning", at("2026-12-02T01:00:00Z")))
    );
    let tags = |v: &str| BTreeMap::from([(TAG_NOTICE.to_owned(), v.to_owned())]);
    assert_eq!(warned_at(&tags(&record)), Some(at("2026-12-02T01:00:00Z")));
    assert_eq!(warned_at(&tags("rebalance-recommendation 2026-12-02T01:00:00Z")), None);
    assert_eq!(warned_at(&tags("garbage")), None);
    assert_eq!(warned_at(&BTreeMap::new()), None);
    assert_eq!(
        moving("instance-shutting-down 2026-12-02T01:00:00Z"),
        Some(("instance-shutting-down", at("2026-12-02T01:00:00Z")))
    );
    assert!(moving(&record).is_some());
    assert_eq!(moving("rebalance-recommendation 2026-12-02T01:00:00Z"), None);
}

#[test]
fn messages_are_acted_on_left_or_dropped() {
    let warning = event(
        "EC2 Spot Instance Interruption Warning",
        r#"{"instance-id":"i-1","instance-action":"terminate"}"#,
    );
    let running = event(
        "EC2 Instance State-change Notification",
        r#"{"instance-id":"i-1","state":"running"}"#,
    );
    let soon = at("2026-12-02T01:05:00Z");
    let late = at("2026-12-02T01:10:00Z");
    let ours = |id: &str| id == "i-1";
    let theirs = |_: &str| false;
    assert!(matches!(dispose(&warning, ours, soon), Disposition::Act(n) if n.kind == NoticeKind::SpotWarning));
    // Another pool sharing the queue may own it, for a while.
    assert_eq!(dispose(&warning, theirs, soon), Disposition::Leave);
    assert_eq!(
        dispose(&warning, theirs, late),
        Disposition::Drop("about i-1, an instance of no pool reading the queue".into())
    );
    assert_eq!(
        dispose(&running, ours, soon),
        Disposition::Drop("i-1 is instance-running".into())
    );
    assert!(matches!(dispose("{}", ours, soon), Disposition::Drop(_)));
}
