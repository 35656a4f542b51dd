package lambdafn_test

import (
	"context"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/lambdafn"
)

// How long sweep records are kept: the environment, else the configuration's
// journal.history_days, else the default.
func TestHistoryRetentionSettings(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"default", nil, lambdafn.DefaultHistoryDays * day},
		{"configuration", map[string]string{lambdafn.EnvConfig: "journal:\n  history_days: 30\n"}, 30 * day},
		{"configuration keeps", map[string]string{lambdafn.EnvConfig: "journal:\n  history_days: 0\n"}, 0},
		{"environment wins", map[string]string{lambdafn.EnvConfig: "journal:\n  history_days: 30\n", lambdafn.EnvHistoryDays: "7"}, 7 * day},
		{"environment keeps", map[string]string{lambdafn.EnvHistoryDays: "0"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := lambdafn.LoadSettings(context.Background(), func(k string) string { return c.env[k] }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.HistoryRetention != c.want || s.Warden.HistoryRetention != c.want {
				t.Fatalf("retention %v (warden %v), want %v", s.HistoryRetention, s.Warden.HistoryRetention, c.want)
			}
		})
	}
}
