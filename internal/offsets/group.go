package offsets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Member is a live member of a consumer group.
type Member struct {
	MemberID string
	ClientID string
	Host     string
}

// Group is the state and membership of a consumer group.
type Group struct {
	Name string
	// State is the coordinator's state of the group, such as Stable,
	// Empty or Dead (Dead also for a group that does not exist).
	State string
	// Protocol is "classic" or "consumer" (the KIP-848 protocol).
	Protocol string
	Members  []Member
}

// LiveMembersError is returned by a reset while the group has members.
type LiveMembersError struct {
	Group   string
	Members []Member
}

func (e *LiveMembersError) Error() string {
	names := make([]string, len(e.Members))
	for i, m := range e.Members {
		names[i] = fmt.Sprintf("client %s on host %s", m.ClientID, m.Host)
	}
	return fmt.Sprintf("group %s has %d live members (%s): stop them before resetting its offsets, because a running consumer commits its own positions over the new ones",
		e.Group, len(e.Members), strings.Join(names, ", "))
}

// CheckStopped returns a *LiveMembersError when g has members.
func (g Group) CheckStopped() error {
	if len(g.Members) == 0 {
		return nil
	}
	return &LiveMembersError{Group: g.Name, Members: g.Members}
}

// DescribeGroup returns the state and members of group, under either
// group protocol. A group that does not exist has state Dead and no
// members.
func DescribeGroup(ctx context.Context, admin *kadm.Client, group string) (Group, error) {
	classic, err := admin.DescribeGroups(ctx, group)
	if err != nil {
		return Group{}, fmt.Errorf("describing group %s: %w", group, err)
	}
	described, ok := classic[group]
	if ok && described.Err == nil && described.State != "Dead" {
		g := Group{Name: group, State: described.State, Protocol: "classic"}
		for _, m := range described.Members {
			g.Members = append(g.Members, Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost})
		}
		sortMembers(g.Members)
		return g, nil
	}

	// A group of the KIP-848 consumer protocol is described only by the
	// ConsumerGroupDescribe API. Brokers before Kafka 3.7 lack it, and
	// then the classic description is used.
	next, nextErr := admin.DescribeConsumerGroups(ctx, group)
	if nextErr == nil {
		if d, ok := next[group]; ok && d.Err == nil && d.State != "" && d.State != "Dead" {
			g := Group{Name: group, State: d.State, Protocol: "consumer"}
			for _, m := range d.Members {
				g.Members = append(g.Members, Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost})
			}
			sortMembers(g.Members)
			return g, nil
		}
	}

	if ok && described.Err != nil && !isGroupNotFound(described.Err) {
		return Group{}, fmt.Errorf("describing group %s: %w", group, described.Err)
	}
	return Group{Name: group, State: "Dead", Protocol: "classic"}, nil
}

func isGroupNotFound(err error) bool {
	return errors.Is(err, kerr.GroupIDNotFound)
}

func sortMembers(m []Member) {
	sort.Slice(m, func(i, j int) bool {
		if m[i].ClientID != m[j].ClientID {
			return m[i].ClientID < m[j].ClientID
		}
		return m[i].MemberID < m[j].MemberID
	})
}
