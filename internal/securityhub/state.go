package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// State is what the previous imports into one account and region left: every finding Security
// Hub holds as active from iamwarden, with what a later import must keep or needs to archive it.
type State struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	// LastImport is the UpdatedAt of the last import Security Hub accepted a finding of; the
	// next import's UpdatedAt is later.
	LastImport time.Time `json:"last_import"`
	// Findings are the active findings by ASFF Id.
	Findings map[string]Record `json:"findings"`
}

// Record is one imported finding: its lifecycle times and what its archiving import repeats
// (every ASFF required field).
type Record struct {
	CreatedAt       time.Time `json:"created_at"`
	FirstObservedAt time.Time `json:"first_observed_at"`
	LastObservedAt  time.Time `json:"last_observed_at"`
	UpdatedAt       time.Time `json:"updated_at"`

	ProductArn          string     `json:"product_arn"`
	GeneratorID         string     `json:"generator_id"`
	Rule                string     `json:"rule"`
	Title               string     `json:"title"`
	Types               []string   `json:"types"`
	Severity            string     `json:"severity"`
	RelatedRequirements []string   `json:"related_requirements,omitempty"`
	Resources           []Resource `json:"resources"`
}

// Resource is a finding's resource as the archiving import names it.
type Resource struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Partition string `json:"partition,omitempty"`
	Region    string `json:"region,omitempty"`
}

// StateStore keeps the State of each account and region between runs.
type StateStore interface {
	// Load returns the state of an account and region; a state never saved is empty (no
	// findings), not an error.
	Load(ctx context.Context, account, region string) (State, error)
	// Save replaces the state of s.Account and s.Region.
	Save(ctx context.Context, s State) error
}

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
)

// ErrInvalidKey is returned for an account or region that cannot name a state.
var ErrInvalidKey = errors.New("invalid security hub state key")

func checkKey(account, region string) error {
	if !accountPattern.MatchString(account) {
		return fmt.Errorf("%w: account %q is not 12 digits", ErrInvalidKey, account)
	}
	if !regionPattern.MatchString(region) {
		return fmt.Errorf("%w: region %q is not a region name", ErrInvalidKey, region)
	}
	return nil
}

func emptyState(account, region string) State {
	return State{Account: account, Region: region, Findings: map[string]Record{}}
}

// FileStore keeps each state in its own file, securityhub-<account>-<region>.json, in a
// directory: written to a temporary file (mode 0600) that is synced and renamed over the old
// one, so a crash leaves the old state or the new, never a mix.
type FileStore struct {
	dir string
}

var _ StateStore = (*FileStore)(nil)

// NewFileStore returns a store in dir, created (mode 0700) on the first Save.
func NewFileStore(dir string) *FileStore { return &FileStore{dir: dir} }

// Path is the file of an account and region's state.
func (s *FileStore) Path(account, region string) string {
	return filepath.Join(s.dir, "securityhub-"+account+"-"+region+".json")
}

// Load reads a state; a missing file is an empty state.
func (s *FileStore) Load(ctx context.Context, account, region string) (State, error) {
	if err := checkKey(account, region); err != nil {
		return State{}, fmt.Errorf("load security hub state: %w", err)
	}
	path := s.Path(account, region)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return emptyState(account, region), nil
	}
	if err != nil {
		return State{}, fmt.Errorf("load security hub state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, fmt.Errorf("load security hub state %s: %w", path, err)
	}
	if st.Account != account || st.Region != region {
		return State{}, fmt.Errorf("load security hub state %s: it is the state of %s %s", path, st.Account, st.Region)
	}
	if st.Findings == nil {
		st.Findings = map[string]Record{}
	}
	return st, nil
}

// Save writes a state atomically.
func (s *FileStore) Save(ctx context.Context, st State) error {
	if err := checkKey(st.Account, st.Region); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if st.Findings == nil {
		st.Findings = map[string]Record{}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	path := s.Path(st.Account, st.Region)
	tmp, err := os.CreateTemp(s.dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; Chmod says so in case the umask or platform differs.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	done = true
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		_ = d.Close()
	}
	return nil
}
