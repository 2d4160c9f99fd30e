package schemas

// deadLetterToNative converts a DeadLetter to the native form of
// mailtriage.DeadLetter.
func deadLetterToNative(d *DeadLetter) map[string]any {
	return map[string]any{
		"eventId":         d.EventID,
		"tenant":          d.Tenant,
		"stage":           d.Stage,
		"error":           d.Error,
		"sourceTopic":     d.SourceTopic,
		"sourcePartition": d.SourcePartition,
		"sourceOffset":    d.SourceOffset,
		"attempts":        d.Attempts,
		"traceId":         d.TraceID,
		"failedAt":        d.FailedAt,
		"key":             bytesToNative(d.Key),
		"payload":         bytesToNative(d.Payload),
		"raw":             optionalBlobRefToNative(d.Raw),
	}
}

// deadLetterFromNative converts a decoded mailtriage.DeadLetter back to the
// Go type.
func deadLetterFromNative(r *recordReader) DeadLetter {
	return DeadLetter{
		EventID:         r.string("eventId"),
		Tenant:          r.string("tenant"),
		Stage:           r.string("stage"),
		Error:           r.string("error"),
		SourceTopic:     r.string("sourceTopic"),
		SourcePartition: r.int32("sourcePartition"),
		SourceOffset:    r.int64("sourceOffset"),
		Attempts:        r.int32("attempts"),
		TraceID:         r.string("traceId"),
		FailedAt:        r.time("failedAt"),
		Key:             r.bytes("key"),
		Payload:         r.bytes("payload"),
		Raw:             optionalBlobRefFromNative(r.optionalRecord("raw", unionBlobRef)),
	}
}
