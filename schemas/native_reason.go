package schemas

func labelScoreToNative(s *LabelScore) map[string]any {
	return map[string]any{
		"label":       s.Label,
		"probability": s.Probability,
	}
}

func labelScoreFromNative(r *recordReader) LabelScore {
	return LabelScore{
		Label:       r.string("label"),
		Probability: r.float64("probability"),
	}
}

func reasonToNative(reason *Reason) map[string]any {
	return map[string]any{
		"kind":           reason.Kind,
		"ruleId":         reason.RuleID,
		"rulesetVersion": reason.RulesetVersion,
		"modelVersion":   reason.ModelVersion,
		"topLabels":      recordsToNative(reason.TopLabels, labelScoreToNative),
		"threshold":      reason.Threshold,
		"detail":         reason.Detail,
	}
}

func reasonFromNative(r *recordReader) Reason {
	return Reason{
		Kind:           r.string("kind"),
		RuleID:         r.string("ruleId"),
		RulesetVersion: r.string("rulesetVersion"),
		ModelVersion:   r.string("modelVersion"),
		TopLabels:      recordsFromNative(r.records("topLabels"), labelScoreFromNative),
		Threshold:      r.float64("threshold"),
		Detail:         r.string("detail"),
	}
}
