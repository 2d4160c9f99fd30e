package mime

// ReplyText returns text without quoted replies and the signature, by the
// same rules that Parse applies to fill InboundEmail.ReplyText. Sources that
// receive the text already parsed, such as the JSON webhook, call it so
// that their records carry the same field.
func ReplyText(text string) string { return replyText(text) }
