package cli

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func newRulesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List the rules with their severity, AWS controls and documentation",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := g.format("rules")
			if err != nil {
				return err
			}
			return listRules(g, f)
		},
	}
}

type ruleInfo struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Severity rules.Severity `json:"severity"`
	Root     bool           `json:"root"`
	Controls []string       `json:"controls"`
	Doc      string         `json:"doc"`
}

func listRules(g *globals, f report.Format) error {
	var infos []ruleInfo
	for _, r := range rules.Registry() {
		infos = append(infos, ruleInfo{r.ID, r.Title, r.Severity, r.Root, r.Controls, r.Doc})
	}
	switch f {
	case report.FormatJSON:
		return encodeJSON(g.stdout, infos)
	case report.FormatCSV:
		cw := csv.NewWriter(g.stdout)
		_ = cw.Write([]string{"id", "title", "severity", "root", "controls", "doc"})
		for _, i := range infos {
			_ = cw.Write([]string{i.ID, report.SafeCell(i.Title), string(i.Severity), strconv.FormatBool(i.Root), strings.Join(i.Controls, "; "), i.Doc})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tCONTROLS\tTITLE")
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.ID, i.Severity, report.SafeText(strings.Join(i.Controls, ", ")), report.SafeText(i.Title))
	}
	return tw.Flush()
}
