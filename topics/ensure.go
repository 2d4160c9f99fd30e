package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Ensure creates the topics of specs that do not exist yet and checks the
// ones that did exist as Check does. Existing topics are left as they are,
// so running Ensure again is safe.
//
// Ensure sends a create request for every topic and checks those that
// already existed. It does not list the topics first, because kadm would then keep
// the missing ones as unknown in the client's metadata cache for a few
// seconds, and the caller's next request for them would fail.
func Ensure(ctx context.Context, adm *kadm.Client, specs []Spec) error {
	if err := validate(specs); err != nil {
		return err
	}

	var existing []Spec
	var created []string
	for _, spec := range specs {
		_, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, spec.Configs, spec.Name)
		switch {
		case err == nil:
			created = append(created, spec.Name)
		case errors.Is(err, kerr.TopicAlreadyExists):
			existing = append(existing, spec)
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
			// Without the right to create, the topic may still exist:
			// Check reports it as missing when it does not.
			existing = append(existing, spec)
		default:
			return fmt.Errorf("creating topic %s with %d partitions and replication factor %d: %w",
				spec.Name, spec.Partitions, spec.ReplicationFactor, err)
		}
	}

	if err := waitForLeaders(ctx, adm, created); err != nil {
		return err
	}
	if len(existing) == 0 {
		return nil
	}
	return Check(ctx, adm, existing)
}

// leaderPollInterval is how often waitForLeaders asks for the end offsets.
const leaderPollInterval = 100 * time.Millisecond

// waitForLeaders returns once every partition of the named topics answers
// a ListOffsets request. A broker acknowledges CreateTopics before every
// broker knows the new topic, so a request right after it can fail with
// UNKNOWN_TOPIC_OR_PARTITION; seen on a fresh Kafka 4.4 broker.
func waitForLeaders(ctx context.Context, adm *kadm.Client, names []string) error {
	if len(names) == 0 {
		return nil
	}
	for {
		offsets, err := adm.ListEndOffsets(ctx, names...)
		if err == nil {
			err = offsets.Error()
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the new topics %s to get partition leaders: %w (last error: %v)",
				strings.Join(names, ", "), ctx.Err(), err)
		case <-time.After(leaderPollInterval):
		}
	}
}

// Check verifies that every topic of specs exists with the partition count
// and cleanup.policy of its spec. It returns one error that lists every
// mismatch, each naming the topic and the fix. Other settings such as
// retention.ms are left to the operator and not checked.
func Check(ctx context.Context, adm *kadm.Client, specs []Spec) error {
	if err := validate(specs); err != nil {
		return err
	}

	details, err := adm.ListTopics(ctx, names(specs)...)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var present []string
	for _, spec := range specs {
		if details.Has(spec.Name) {
			present = append(present, spec.Name)
		}
	}
	var configs kadm.ResourceConfigs
	if len(present) > 0 {
		configs, err = adm.DescribeTopicConfigs(ctx, present...)
		if err != nil {
			return fmt.Errorf("describing the configs of %s: %w", strings.Join(present, ", "), err)
		}
	}

	var problems []error
	for _, spec := range specs {
		detail, ok := details[spec.Name]
		if !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
			problems = append(problems, fmt.Errorf("topic %s is missing: create it with \"mailtriage topics create\"", spec.Name))
			continue
		}
		if detail.Err != nil {
			problems = append(problems, fmt.Errorf("reading the metadata of topic %s: %w", spec.Name, detail.Err))
			continue
		}
		if got := int32(len(detail.Partitions)); got != spec.Partitions {
			problems = append(problems, fmt.Errorf(
				"topic %s has %d partitions, expected %d: pass --partitions %d to use the existing count, or delete the topic and create it again",
				spec.Name, got, spec.Partitions, got))
		}
		if err := checkCleanupPolicy(spec, configs); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// checkCleanupPolicy compares the topic's cleanup.policy with the spec's,
// ignoring the order of a list such as "compact,delete".
func checkCleanupPolicy(spec Spec, configs kadm.ResourceConfigs) error {
	rc, err := configs.On(spec.Name, nil)
	if err != nil {
		return fmt.Errorf("describing the configs of topic %s: %w", spec.Name, err)
	}
	if rc.Err != nil {
		return fmt.Errorf("describing the configs of topic %s: %w", spec.Name, rc.Err)
	}

	got := CleanupDelete // Kafka's default when the topic sets none
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			got = *c.Value
		}
	}
	want := spec.CleanupPolicy()
	if policySet(got) == policySet(want) {
		return nil
	}
	return fmt.Errorf(
		"topic %s has cleanup.policy=%s, expected %s: change it with kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=%s",
		spec.Name, got, want, spec.Name, want)
}

// policySet normalizes a cleanup.policy list to its sorted, comma-joined
// form.
func policySet(v string) string {
	parts := strings.Split(strings.ReplaceAll(v, " ", ""), ",")
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ",")
}

// validate rejects specs that Kafka would reject with a less helpful error.
func validate(specs []Spec) error {
	if len(specs) == 0 {
		return errors.New("no topic specs given: pass topics.Specs(partitions, replication)")
	}
	for _, s := range specs {
		switch {
		case s.Name == "":
			return errors.New("a topic spec has an empty name")
		case s.Partitions < 1:
			return fmt.Errorf("topic %s: invalid partition count %d: use 1 or more", s.Name, s.Partitions)
		case s.ReplicationFactor < 1 && s.ReplicationFactor != -1:
			return fmt.Errorf("topic %s: invalid replication factor %d: use 1 or more, or -1 for the broker default", s.Name, s.ReplicationFactor)
		}
	}
	return nil
}

func names(specs []Spec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}
