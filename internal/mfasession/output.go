package mfasession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CredentialsFile is the shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials.
func CredentialsFile(getenv func(string) string) (string, error) {
	if f := getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		return f, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("credentials file: %w", err)
	}
	return filepath.Join(home, ".aws", "credentials"), nil
}

// credentialKeys are the keys WriteProfile owns in its section.
var credentialKeys = []string{"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "x_security_token_expiration"}

// WriteProfile writes creds as profile name into the credentials file at path, atomically (a
// temporary file renamed over it in the same directory), mode 0600. Every line outside the
// profile's section is kept byte for byte; inside it, the lines other than the credential keys
// (comments, region...) are kept. A profile holding a long-term access key is refused: writing
// the session over it would lose the key.
func WriteProfile(path, name string, creds Credentials) error {
	if name == "" || strings.ContainsAny(name, "[]\r\n") {
		return &Error{Err: fmt.Errorf("profile name %q is not usable in a credentials file", name), Hint: "--profile-name mfa"}
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	data, err := rewriteProfile(old, name, creds)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func sectionName(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return "", false
	}
	return strings.TrimSpace(t[1 : len(t)-1]), true
}

func keyOf(line string) string {
	k, _, ok := strings.Cut(line, "=")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(k))
}

func rewriteProfile(old []byte, name string, c Credentials) ([]byte, error) {
	entries := []string{
		"aws_access_key_id = " + c.AccessKeyID,
		"aws_secret_access_key = " + c.SecretAccessKey,
		"aws_session_token = " + c.SessionToken,
		"x_security_token_expiration = " + c.Expiration.UTC().Format(time.RFC3339),
	}
	lines := strings.SplitAfter(string(old), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out bytes.Buffer
	found, in := false, false
	for _, l := range lines {
		if s, ok := sectionName(l); ok {
			in = s == name
			if in {
				if found {
					return nil, &Error{Err: fmt.Errorf("profile %q appears twice in the credentials file", name), Hint: "merge the two sections by hand"}
				}
				found = true
				out.WriteString(l)
				if !strings.HasSuffix(l, "\n") {
					out.WriteString("\n")
				}
				for _, e := range entries {
					out.WriteString(e + "\n")
				}
				continue
			}
		}
		if in {
			k := keyOf(l)
			if k == "aws_access_key_id" {
				_, v, _ := strings.Cut(l, "=")
				if strings.HasPrefix(strings.TrimSpace(v), "AKIA") {
					return nil, &Error{Err: fmt.Errorf("profile %q holds a long-term access key; session credentials would replace it", name),
						Hint: "--profile-name NAME naming another profile, e.g. " + name + "-mfa"}
				}
			}
			if contains(credentialKeys, k) {
				continue
			}
		}
		out.WriteString(l)
	}
	if !found {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteString("\n")
		}
		if out.Len() > 0 {
			out.WriteString("\n")
		}
		out.WriteString("[" + name + "]\n")
		for _, e := range entries {
			out.WriteString(e + "\n")
		}
	}
	return out.Bytes(), nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// writeAtomic replaces path with data: a 0600 temporary file in the same directory, synced,
// then renamed over path.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteExports prints creds as sh export lines, with the expiry as a comment.
func WriteExports(w io.Writer, c Credentials) error {
	_, err := fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n# MFA session (%s) expires %s\n",
		shellQuote(c.AccessKeyID), shellQuote(c.SecretAccessKey), shellQuote(c.SessionToken), c.Serial, c.Expiration.UTC().Format(time.RFC3339))
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// processOutput is the credential_process format of the AWS CLI and SDKs.
type processOutput struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

// WriteProcess prints creds in the credential_process format (Version 1).
func WriteProcess(w io.Writer, c Credentials) error {
	enc := json.NewEncoder(w)
	return enc.Encode(processOutput{Version: 1, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Expiration: c.Expiration.UTC().Format(time.RFC3339)})
}

// RefreshMargin: cached credentials are reused while they have more than this left.
const RefreshMargin = 5 * time.Minute

// Cache keeps credential_process sessions between calls, one 0600 file per key.
type Cache struct {
	Dir string
	Now func() time.Time
}

// CacheDir is $XDG_CACHE_HOME/iamwarden, else ~/.cache/iamwarden.
func CacheDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "iamwarden"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	return filepath.Join(home, ".cache", "iamwarden"), nil
}

// CacheKey names the cache entry of a source profile and a device choice.
func CacheKey(profile, device string) string {
	clean := func(s string) string {
		if s == "" {
			return "default"
		}
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
				return r
			}
			return '_'
		}, s)
	}
	return "session-" + clean(profile) + "--" + clean(device)
}

// Get returns the cached credentials of key while they have more than RefreshMargin left, else
// calls fetch and caches its answer. Concurrent callers (processes or goroutines) take an
// exclusive flock on the entry's lock file: one fetches, the others then reuse its answer.
func (c Cache) Get(ctx context.Context, key string, fetch func(context.Context) (Credentials, error)) (Credentials, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return Credentials{}, fmt.Errorf("cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(c.Dir, key+".lock"))
	if err != nil {
		return Credentials{}, fmt.Errorf("cache lock: %w", err)
	}
	defer unlock()
	path := filepath.Join(c.Dir, key+".json")
	if data, err := os.ReadFile(path); err == nil {
		var cached Credentials
		if json.Unmarshal(data, &cached) == nil && cached.Expiration.Sub(c.now()) > RefreshMargin {
			return cached, nil
		}
	}
	creds, err := fetch(ctx)
	if err != nil {
		return Credentials{}, err
	}
	data, err := json.Marshal(creds)
	if err != nil {
		return Credentials{}, fmt.Errorf("cache: %w", err)
	}
	if err := writeAtomic(path, data); err != nil {
		return Credentials{}, fmt.Errorf("cache: %w", err)
	}
	return creds, nil
}

func (c Cache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}
