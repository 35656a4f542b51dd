package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// WriteText writes one line per finding: file:line: severity rule-id: message.
func WriteText(w io.Writer, findings []Finding) error {
	for _, f := range findings {
		loc := f.File
		if f.Line > 0 {
			loc += fmt.Sprintf(":%d", f.Line)
		}
		var where []string
		if f.Policy != "" {
			where = append(where, "policy "+f.Policy)
		}
		if f.Statement >= 0 {
			s := fmt.Sprintf("Statement[%d]", f.Statement)
			if f.Sid != "" {
				s += " " + f.Sid
			}
			where = append(where, s)
		}
		suffix := ""
		if len(where) > 0 {
			suffix = " [" + strings.Join(where, ", ") + "]"
		}
		if _, err := fmt.Fprintf(w, "%s: %s %s: %s%s\n", loc, f.Severity, f.Rule, f.Message, suffix); err != nil {
			return err
		}
	}
	return nil
}

// jsonReport is the JSON output.
type jsonReport struct {
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"`
}

// WriteJSON writes the findings and a count per severity.
func WriteJSON(w io.Writer, findings []Finding) error {
	r := jsonReport{Findings: findings, Summary: map[string]int{string(SeverityError): 0, string(SeverityWarning): 0, string(SeverityNote): 0}}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, f := range findings {
		r.Summary[string(f.Severity)]++
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// SARIF 2.1.0 structure, as far as iamwarden fills it.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string            `json:"id"`
		ShortDescription     sarifText         `json:"shortDescription"`
		HelpURI              string            `json:"helpUri"`
		DefaultConfiguration sarifConfig       `json:"defaultConfiguration"`
		Properties           map[string]string `json:"properties,omitempty"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical      `json:"physicalLocation"`
		LogicalLocations []sarifLogicalName `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogicalName struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
	}
)

// WriteSARIF writes the findings as a SARIF 2.1.0 log, for code scanning services. version is
// iamwarden's version.
func WriteSARIF(w io.Writer, findings []Finding, version string) error {
	reg := Registry()
	index := map[string]int{}
	driver := sarifDriver{Name: "iamwarden", Version: version, InformationURI: "https://github.com/iamwarden/iamwarden"}
	for i, r := range reg {
		index[r.ID] = i
		driver.Rules = append(driver.Rules, sarifRule{
			ID: r.ID, ShortDescription: sarifText{Text: r.Title}, HelpURI: r.HelpURI(),
			DefaultConfiguration: sarifConfig{Level: string(r.Severity)},
			Properties:           map[string]string{"awsDocumentation": r.AWSDoc},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, f := range findings {
		loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: artifactURI(f.File)}}}
		if f.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line}
		}
		if f.Policy != "" {
			loc.LogicalLocations = []sarifLogicalName{{FullyQualifiedName: f.Policy}}
		}
		msg := f.Message
		if f.Policy != "" {
			msg = f.Policy + ": " + msg
		}
		run.Results = append(run.Results, sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: string(f.Severity),
			Message: sarifText{Text: msg}, Locations: []sarifLocation{loc}})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// artifactURI writes a file path as a relative URI reference with forward slashes.
func artifactURI(file string) string {
	return strings.ReplaceAll(filepath.ToSlash(file), " ", "%20")
}
