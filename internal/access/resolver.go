// Package access works out the policies that govern an IAM user's requests, from a snapshot of
// the account: the user's inline and attached policies, those of the user's groups, and the
// permissions boundary. Each managed and group policy is compiled once and shared by every user
// who holds it.
package access

import (
	"fmt"
	"sync"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// Resolver builds policy sets for the users of one snapshot.
type Resolver struct {
	managed map[string]*policy.Policy // by ARN
	groups  map[string][]*policy.Policy
	// attached lists each group's attached managed policy ARNs.
	attached map[string][]string
	// broken says why a managed policy or group cannot be used, by ARN or group name.
	broken map[string]string

	mu    sync.Mutex
	cache map[*inventory.User]resolved
}

type resolved struct {
	set *policy.PolicySet
	err error
}

// NewResolver compiles the snapshot's managed and group policies.
func NewResolver(s *inventory.Snapshot) *Resolver {
	r := &Resolver{managed: map[string]*policy.Policy{}, groups: map[string][]*policy.Policy{}, attached: map[string][]string{}, broken: map[string]string{}, cache: map[*inventory.User]resolved{}}
	for arn, mp := range s.Policies {
		if mp.Document == "" {
			r.broken[arn] = "policy document not read"
			continue
		}
		p, err := policy.Parse(mp.Name, []byte(mp.Document), policy.KindIdentity)
		if err != nil {
			r.broken[arn] = err.Error()
			continue
		}
		r.managed[arn] = p
	}
	for name, g := range s.Groups {
		r.attached[name] = g.AttachedPolicies
		var ps []*policy.Policy
		for _, ip := range g.InlinePolicies {
			p, err := policy.Parse("group "+name+" inline "+ip.Name, []byte(ip.Document), policy.KindIdentity)
			if err != nil {
				r.broken["group "+name] = err.Error()
				ps = nil
				break
			}
			ps = append(ps, p)
		}
		if _, bad := r.broken["group "+name]; !bad {
			r.groups[name] = ps
		}
	}
	return r
}

// PolicySet returns the policies that apply to u's requests. It fails, naming the policy, when
// one of them is unknown or invalid: a partial set would understate what is denied. Answers are
// kept per user.
func (r *Resolver) PolicySet(u *inventory.User) (*policy.PolicySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[u]; ok {
		return c.set, c.err
	}
	set, err := r.build(u)
	r.cache[u] = resolved{set, err}
	return set, err
}

func (r *Resolver) build(u *inventory.User) (*policy.PolicySet, error) {
	set := &policy.PolicySet{}
	for _, ip := range u.InlinePolicies {
		p, err := policy.Parse("user "+u.Name+" inline "+ip.Name, []byte(ip.Document), policy.KindIdentity)
		if err != nil {
			return nil, fmt.Errorf("inline policy %s: %w", ip.Name, err)
		}
		set.Identity = append(set.Identity, p)
	}
	for _, arn := range u.AttachedPolicies {
		p, err := r.managedPolicy(arn)
		if err != nil {
			return nil, err
		}
		set.Identity = append(set.Identity, p)
	}
	for _, g := range u.Groups {
		if why, bad := r.broken["group "+g]; bad {
			return nil, fmt.Errorf("group %s: %s", g, why)
		}
		ps, ok := r.groups[g]
		if !ok {
			return nil, fmt.Errorf("group %s: not in the authorization details", g)
		}
		set.Identity = append(set.Identity, ps...)
		for _, arn := range r.attached[g] {
			p, err := r.managedPolicy(arn)
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g, err)
			}
			set.Identity = append(set.Identity, p)
		}
	}
	if u.PermissionsBoundary != "" {
		p, err := r.managedPolicy(u.PermissionsBoundary)
		if err != nil {
			return nil, fmt.Errorf("permissions boundary: %w", err)
		}
		set.Boundary = p
	}
	return set, nil
}

func (r *Resolver) managedPolicy(arn string) (*policy.Policy, error) {
	if p, ok := r.managed[arn]; ok {
		return p, nil
	}
	if why, bad := r.broken[arn]; bad {
		return nil, fmt.Errorf("managed policy %s: %s", arn, why)
	}
	return nil, fmt.Errorf("managed policy %s: document not in the data", arn)
}
