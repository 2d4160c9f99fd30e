package model

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, expected string
	}{
		{"lower case", "Card ARRIVED", "card arrived"},
		{"digits folded", "Order 12345 on 3/4", "order 00000 on 0/0"},
		{"url", "see https://example.test/a?b=1 now", "see  urltoken  now"},
		{"www url", "go to www.example.test", "go to  urltoken "},
		{"email address", "write to Jane.Doe+x@Example.test please", "write to  emailtoken  please"},
		{"nfkc full width", "ＣＡＲＤ", "card"},
		{"nfkc ligature", "ﬁle", "file"},
		{"typographic apostrophe", "hasn’t", "hasn't"},
		{"arabic-indic digits", "٣ cards", "0 cards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.expected {
				t.Errorf("Normalize(%q) = %q, expected %q", tt.in, got, tt.expected)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		expected []string
	}{
		{"punctuation splits", "card, arrived? yes!", []string{"card", "arrived", "yes"}},
		{"inner apostrophe kept", "it hasn't 'come'", []string{"it", "hasn't", "come"}},
		{"digits are word runes", "pin 0000", []string{"pin", "0000"}},
		{"accents kept", "café crème", []string{"café", "crème"}},
		{"empty", "  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tokenize(tt.in); !slices.Equal(got, tt.expected) {
				t.Errorf("Tokenize(%q) = %q, expected %q", tt.in, got, tt.expected)
			}
		})
	}
}
