package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestTextRemovesSecrets(t *testing.T) {
	tests := []struct {
		name, in, secret string
	}{
		{"query key", `fetch page 2 of https://api.511.org/traffic/events?api_key=SECRETKEY123&format=json: 503`, "SECRETKEY123"},
		{"relative next_url", `/traffic/events?format=json&api_key=SECRETKEY123&offset=5`, "SECRETKEY123"},
		{"go http error", `Get "http://127.0.0.1:1/x?api_key=SECRETKEY123": dial tcp: refused`, "SECRETKEY123"},
		{"encoded", `url=%2Fevents%3Fapi_key%3DSECRETKEY123%26x`, "SECRETKEY123"},
		{"dsn password", `postgres://alice:hunter2pass@db.example.com:5432/app`, "hunter2pass"},
		{"kv dsn", `host=x user=alice password=hunter2pass dbname=app`, "hunter2pass"},
		{"kv dsn first", `password = hunter2pass host=x`, "hunter2pass"},
		{"kv dsn quoted", `host=x password='it\'s hunter2pass' dbname=app`, "hunter2pass"},
		{"query password", `postgres:///app?host=x&password=hunter2pass&sslmode=require`, "hunter2pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in)
			if strings.Contains(got, tt.secret) {
				t.Fatalf("Text(%q) = %q still holds the secret", tt.in, got)
			}
			if !strings.Contains(got, Mask) {
				t.Fatalf("Text(%q) = %q has no mask", tt.in, got)
			}
		})
	}
}

func TestTextKeepsOrdinaryText(t *testing.T) {
	in := "fetch https://api.open511.gov.bc.ca/events?format=json&limit=500: 503 Service Unavailable"
	if got := Text(in); got != in {
		t.Fatalf("Text changed text without secrets: %q", got)
	}
}

func TestSecretsMaskLiteralValues(t *testing.T) {
	var s Secrets
	s.Add("my key/with+chars", "")
	got := s.Text("raw my key/with+chars and encoded my+key%2Fwith%2Bchars")
	if strings.Contains(got, "my key/with+chars") || strings.Contains(got, "my+key%2Fwith%2Bchars") {
		t.Fatalf("secret left in %q", got)
	}
}

func TestURLMasksPasswordAndKey(t *testing.T) {
	u, _ := url.Parse("postgres://bob:pa55word@host/db?api_key=k3y-value&sslmode=require")
	got := URL(u)
	if strings.Contains(got, "pa55word") || strings.Contains(got, "k3y-value") {
		t.Fatalf("URL() = %q", got)
	}
	if !strings.Contains(got, "bob:") || !strings.Contains(got, "sslmode=require") {
		t.Fatalf("URL() lost non-secret parts: %q", got)
	}
}

// A secret in the query under a name other than api_key is masked too:
// tokens, subscription keys and signatures of signed URLs.
func TestTextMasksSecretLookingQueryValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fetch https://feeds.example.org/wzdx?token=T0KENVALUE&format=json: 503",
			"fetch https://feeds.example.org/wzdx?token=***&format=json: 503"},
		{"https://api.example.net/events?region=x&subscription-key=ABCDEF0123",
			"https://api.example.net/events?region=x&subscription-key=***"},
		{"https://blob.example.net/f.json?sv=2022&se=2030&sig=S1GNATURE%2Bx&sp=r",
			"https://blob.example.net/f.json?sv=2022&se=2030&sig=***&sp=r"},
		{"https://s3.example.com/f?X-Amz-Credential=AKIA1%2F2&X-Amz-Signature=abc123ff",
			"https://s3.example.com/f?X-Amz-Credential=***&X-Amz-Signature=***"},
		{`next=%2Fevents%3Foffset%3D5%26token%3DT0KENVALUE`, `next=%2Fevents%3Foffset%3D5%26token%3D***`},
		{"https://a.example/events?status=ACTIVE&limit=500&offset=0", "https://a.example/events?status=ACTIVE&limit=500&offset=0"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
	u, _ := url.Parse("https://feeds.example.org/wzdx?token=T0KENVALUE&format=json")
	if got := URL(u); got != "https://feeds.example.org/wzdx?token=***&format=json" {
		t.Errorf("URL() = %q", got)
	}
}
