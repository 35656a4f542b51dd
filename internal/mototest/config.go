package mototest

import (
	"time"
)

// ConfigEvaluation is one evaluation the server recorded from config:PutEvaluations (without
// TestMode, which records nothing, as in AWS).
type ConfigEvaluation struct {
	ResultToken       string
	Region            string
	ResourceType      string
	ResourceID        string
	ComplianceType    string
	Annotation        string // empty when none was sent
	OrderingTimestamp time.Time
}

// ConfigEvaluations returns the evaluations PutEvaluations recorded in the handle's account, in
// the order received, over every region.
func (s *Server) ConfigEvaluations() []ConfigEvaluation {
	s.t.Helper()
	return s.configEvaluations(false)
}

// TakeConfigEvaluations is ConfigEvaluations, and forgets them: the next call returns only
// those recorded after this one.
func (s *Server) TakeConfigEvaluations() []ConfigEvaluation {
	s.t.Helper()
	return s.configEvaluations(true)
}

func (s *Server) configEvaluations(clear bool) []ConfigEvaluation {
	s.t.Helper()
	var out struct {
		Evaluations []struct {
			ResultToken       string  `json:"result_token"`
			Region            string  `json:"region"`
			ResourceType      string  `json:"resource_type"`
			ResourceID        string  `json:"resource_id"`
			ComplianceType    string  `json:"compliance_type"`
			Annotation        *string `json:"annotation"`
			OrderingTimestamp string  `json:"ordering_timestamp"`
		} `json:"evaluations"`
	}
	s.call("config-evaluations", map[string]any{"clear": clear}, &out)
	evs := make([]ConfigEvaluation, 0, len(out.Evaluations))
	for _, e := range out.Evaluations {
		at, err := time.Parse(time.RFC3339Nano, e.OrderingTimestamp)
		if err != nil {
			s.t.Fatalf("mototest: config-evaluations: ordering timestamp %q: %v", e.OrderingTimestamp, err)
		}
		ev := ConfigEvaluation{ResultToken: e.ResultToken, Region: e.Region, ResourceType: e.ResourceType,
			ResourceID: e.ResourceID, ComplianceType: e.ComplianceType, OrderingTimestamp: at}
		if e.Annotation != nil {
			ev.Annotation = *e.Annotation
		}
		evs = append(evs, ev)
	}
	return evs
}

// FailConfigEvaluations makes PutEvaluations in the handle's account answer the evaluations of
// the named resources in FailedEvaluations, without recording them. No IDs: none fail.
func (s *Server) FailConfigEvaluations(resourceIDs ...string) {
	s.t.Helper()
	if resourceIDs == nil {
		resourceIDs = []string{}
	}
	s.call("config-fail", map[string]any{"resource_ids": resourceIDs}, nil)
}
