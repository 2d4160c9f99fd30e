package smtpsink

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	texttemplate "text/template"
)

// DefaultTemplatesDir is the template folder of the sink when none is
// given, relative to the working directory.
const DefaultTemplatesDir = "config/autoreply"

// defaultName is the folder of the templates of every tenant, and the file
// name of the templates of every queue.
const defaultName = "default"

// Template file suffixes: QUEUE.text.tmpl is a text/template for the
// text/plain part, QUEUE.html.tmpl an html/template for the text/html part.
const (
	textSuffix = ".text.tmpl"
	htmlSuffix = ".html.tmpl"
)

// TemplateData is the data a template can read. It holds no body text of the
// inbound message.
type TemplateData struct {
	Tenant        string
	TicketRef     string
	Queue         string
	Subject       string // subject of the inbound message, PII redacted
	RequesterName string // display name of the recipient; may be empty
}

// Rendered is one acknowledgement after its templates ran.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// templatePair is the text and HTML template of one tenant and queue.
type templatePair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
	from string // the folder and queue, for error messages
}

// Templates holds the acknowledgement templates of a folder laid out as
// DIR/TENANT/QUEUE.text.tmpl and DIR/TENANT/QUEUE.html.tmpl. For a tenant
// and queue, Render takes the first pair that exists of:
//
//  1. DIR/TENANT/QUEUE.*
//  2. DIR/TENANT/default.*
//  3. DIR/default/QUEUE.*
//  4. DIR/default/default.*, which must exist.
//
// A text template may define a template named "subject" that renders the
// subject line. Without one, the subject is "[#TICKETREF] Re: SUBJECT".
// Either way the subject contains "[#TICKETREF]", which Render prepends
// when the template left it out, so that a reply joins its ticket.
// Templates is safe for concurrent use once loaded.
type Templates struct {
	pairs map[string]*templatePair // key tenant + "/" + queue
}

// LoadTemplates parses every template under dir and checks that each runs
// on sample data, so that a template naming a missing field fails at
// start-up rather than on the first message. The error names the file.
func LoadTemplates(dir string) (*Templates, error) {
	files := map[string]map[string]string{} // key → suffix → path
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, textSuffix) || strings.HasSuffix(path, htmlSuffix)) {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 2 {
			return fmt.Errorf("template %s: expected DIR/TENANT/QUEUE%s or %s", path, textSuffix, htmlSuffix)
		}
		suffix := textSuffix
		if strings.HasSuffix(parts[1], htmlSuffix) {
			suffix = htmlSuffix
		}
		key := parts[0] + "/" + strings.TrimSuffix(parts[1], suffix)
		if files[key] == nil {
			files[key] = map[string]string{}
		}
		files[key][suffix] = path
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the auto-reply templates in %s: %w", dir, err)
	}

	t := &Templates{pairs: map[string]*templatePair{}}
	keys := make([]string, 0, len(files))
	for key := range files {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		pair, err := loadPair(dir, key, files[key])
		if err != nil {
			return nil, err
		}
		t.pairs[key] = pair
	}

	if t.pairs[defaultName+"/"+defaultName] == nil {
		return nil, fmt.Errorf("auto-reply templates in %s: missing %s and %s: every tenant falls back to them",
			dir, filepath.Join(dir, defaultName, defaultName+textSuffix), filepath.Join(dir, defaultName, defaultName+htmlSuffix))
	}
	return t, nil
}

// loadPair parses the text and HTML template of one key and runs both on
// sample data.
func loadPair(dir, key string, paths map[string]string) (*templatePair, error) {
	textPath, htmlPath := paths[textSuffix], paths[htmlSuffix]
	switch {
	case textPath == "":
		return nil, fmt.Errorf("auto-reply template %s has no text part: add %s", htmlPath, filepath.Join(dir, key+textSuffix))
	case htmlPath == "":
		return nil, fmt.Errorf("auto-reply template %s has no HTML part: add %s", textPath, filepath.Join(dir, key+htmlSuffix))
	}

	textSource, err := os.ReadFile(textPath)
	if err != nil {
		return nil, fmt.Errorf("reading auto-reply template: %w", err)
	}
	htmlSource, err := os.ReadFile(htmlPath)
	if err != nil {
		return nil, fmt.Errorf("reading auto-reply template: %w", err)
	}
	pair := &templatePair{from: key}
	// missingkey=error makes a misspelled field fail the sample run below.
	if pair.text, err = texttemplate.New(textPath).Option("missingkey=error").Parse(string(textSource)); err != nil {
		return nil, fmt.Errorf("parsing auto-reply template: %w", err)
	}
	if pair.html, err = htmltemplate.New(htmlPath).Option("missingkey=error").Parse(string(htmlSource)); err != nil {
		return nil, fmt.Errorf("parsing auto-reply template: %w", err)
	}

	sample := TemplateData{Tenant: "tenant", TicketRef: "T-0000000000", Queue: "queue", Subject: "Subject", RequesterName: "Name"}
	if _, err := pair.render(sample); err != nil {
		return nil, err
	}
	return pair, nil
}

// Render runs the templates of data's tenant and queue.
func (t *Templates) Render(data TemplateData) (Rendered, error) {
	for _, key := range []string{
		data.Tenant + "/" + data.Queue,
		data.Tenant + "/" + defaultName,
		defaultName + "/" + data.Queue,
		defaultName + "/" + defaultName,
	} {
		if pair := t.pairs[key]; pair != nil {
			return pair.render(data)
		}
	}
	return Rendered{}, errors.New("no auto-reply template found, not even default/default: load them with LoadTemplates")
}

func (p *templatePair) render(data TemplateData) (Rendered, error) {
	var text, html bytes.Buffer
	if err := p.text.Execute(&text, data); err != nil {
		return Rendered{}, fmt.Errorf("running auto-reply template %s: %w", p.from, err)
	}
	if err := p.html.Execute(&html, data); err != nil {
		return Rendered{}, fmt.Errorf("running auto-reply template %s: %w", p.from, err)
	}

	subject := data.Subject
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(subject)), "re:") {
		subject = "Re: " + subject
	}
	if p.text.Lookup("subject") != nil {
		var b bytes.Buffer
		if err := p.text.ExecuteTemplate(&b, "subject", data); err != nil {
			return Rendered{}, fmt.Errorf("running the subject of auto-reply template %s: %w", p.from, err)
		}
		subject = b.String()
	}
	return Rendered{Subject: subjectLine(subject, data.TicketRef), Text: text.String(), HTML: html.String()}, nil
}

// subjectLine folds s onto one line and makes sure it contains
// "[#ticketRef]". A subject without it gets "[#ticketRef] " in front.
func subjectLine(s, ticketRef string) string {
	s = strings.Join(strings.Fields(s), " ")
	tag := "[#" + ticketRef + "]"
	if !strings.Contains(s, tag) {
		s = strings.TrimSpace(tag + " " + s)
	}
	return s
}
