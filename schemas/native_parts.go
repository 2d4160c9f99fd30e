package schemas

import "github.com/linkedin/goavro/v2"

// Conversions of the records that several contracts share: Address, Header,
// Envelope, Attachment, Auth and BlobRef.

func addressToNative(a *Address) map[string]any {
	return map[string]any{
		"name":    a.Name,
		"address": a.Address,
	}
}

func addressFromNative(r *recordReader) Address {
	return Address{
		Name:    r.string("name"),
		Address: r.string("address"),
	}
}

// optionalAddressToNative converts a nil Address to null and any other to
// the Address branch of the union.
func optionalAddressToNative(a *Address) any {
	if a == nil {
		return nil
	}
	return goavro.Union(unionAddress, addressToNative(a))
}

func optionalAddressFromNative(r *recordReader) *Address {
	if r == nil {
		return nil
	}
	a := addressFromNative(r)
	return &a
}

func headerToNative(h *Header) map[string]any {
	return map[string]any{
		"name":  h.Name,
		"value": h.Value,
	}
}

func headerFromNative(r *recordReader) Header {
	return Header{
		Name:  r.string("name"),
		Value: r.string("value"),
	}
}

// optionalEnvelopeToNative converts a nil Envelope to null and any other to
// the Envelope branch of the union.
func optionalEnvelopeToNative(e *Envelope) any {
	if e == nil {
		return nil
	}
	return goavro.Union(unionEnvelope, map[string]any{
		"mailFrom":   e.MailFrom,
		"rcptTo":     stringsToNative(e.RcptTo),
		"helo":       e.Helo,
		"remoteAddr": e.RemoteAddr,
		"tls":        e.TLS,
	})
}

func optionalEnvelopeFromNative(r *recordReader) *Envelope {
	if r == nil {
		return nil
	}
	return &Envelope{
		MailFrom:   r.string("mailFrom"),
		RcptTo:     r.strings("rcptTo"),
		Helo:       r.string("helo"),
		RemoteAddr: r.string("remoteAddr"),
		TLS:        r.bool("tls"),
	}
}

func attachmentToNative(a *Attachment) map[string]any {
	return map[string]any{
		"filename":    a.Filename,
		"contentType": a.ContentType,
		"size":        a.Size,
		"contentId":   a.ContentID,
		"inline":      a.Inline,
		"sha256":      a.SHA256,
		"storageKey":  a.StorageKey,
		"part":        a.Part,
		"text":        a.Text,
		"downloadUrl": a.DownloadURL,
	}
}

func attachmentFromNative(r *recordReader) Attachment {
	return Attachment{
		Filename:    r.string("filename"),
		ContentType: r.string("contentType"),
		Size:        r.int64("size"),
		ContentID:   r.string("contentId"),
		Inline:      r.bool("inline"),
		SHA256:      r.string("sha256"),
		StorageKey:  r.string("storageKey"),
		Part:        r.string("part"),
		Text:        r.string("text"),
		DownloadURL: r.string("downloadUrl"),
	}
}

func authToNative(a *Auth) map[string]any {
	return map[string]any{
		"spf":   a.SPF,
		"dkim":  a.DKIM,
		"dmarc": a.DMARC,
		"spam":  a.Spam,
	}
}

func authFromNative(r *recordReader) Auth {
	return Auth{
		SPF:   r.string("spf"),
		DKIM:  r.string("dkim"),
		DMARC: r.string("dmarc"),
		Spam:  r.string("spam"),
	}
}

// optionalBlobRefToNative converts a nil BlobRef to null and any other to
// the BlobRef branch of the union.
func optionalBlobRefToNative(b *BlobRef) any {
	if b == nil {
		return nil
	}
	return goavro.Union(unionBlobRef, map[string]any{
		"key":    b.Key,
		"sha256": b.SHA256,
		"size":   b.Size,
	})
}

func optionalBlobRefFromNative(r *recordReader) *BlobRef {
	if r == nil {
		return nil
	}
	return &BlobRef{
		Key:    r.string("key"),
		SHA256: r.string("sha256"),
		Size:   r.int64("size"),
	}
}
