package mask

// Context words: what the words before a candidate say about it, in
// English, German, French, Spanish, Italian, Portuguese and Dutch.

import (
	"maps"
	"slices"
	"strings"
)

// Context words, matched case-insensitively (ASCII) at the start of a word
// in the line before a candidate: words of four bytes or more also match
// as prefixes ("Bestellnummer", "llamadme"), shorter ones only whole.
// Words written in upper case ("SIN", "NIE") match only in upper case:
// in lower case they are common words ("sin" is Spanish for "without").
var contextWords = [numCats][]string{
	catPhone: {
		"call", "phone", "telephone", "tel", "mobile", "cell", "reach", "text", "whatsapp", "whats", "sms", "fax", "contact", "ring", "dial", "landline", "ph",
		"telefon", "handy", "mobil", "rufnummer", "festnetz", "anruf", "rufen", "rückruf", "zurückrufen", "erreich", "durchwahl",
		"téléphone", "tél", "portable", "appel", "rappel", "joindre", "fixe", "gsm",
		"teléfono", "telefono", "tlf", "tfno", "móvil", "movil", "celular", "llam", "contacto", "fijo",
		"cellulare", "chiam", "richiam", "contatt", "fisso", "recapito",
		"telefone", "telemóvel", "telemovel", "liga", "ligue", "contato", "falar", "zap",
		"telefoon", "mobiel", "bel", "bellen", "terugbel", "vast", "bereikbaar",
	},
	catNonPhone: {
		"order", "tracking", "track", "invoice", "ref", "reference", "ticket", "case", "account", "acct", "po", "sku", "serial", "confirmation", "booking", "receipt", "claim", "transaction", "txn", "rma", "item", "parcel", "shipment", "awb", "member", "loyalty", "customer", "contract", "vat", "abn", "nip", "upi", "company", "registration",
		"bestell", "auftrag", "sendung", "paket", "rechnung", "kunden", "kd", "vorgang", "referenz", "lieferung", "artikel", "vertrag", "verwendungszweck", "buchung", "beleg", "gutschein", "konto", "ust", "handelsregister", "hrb", "retoure",
		"commande", "colis", "suivi", "facture", "référence", "réf", "dossier", "client", "contrat", "article", "siret", "siren", "tva", "réservation", "expédition",
		"pedido", "envío", "envio", "seguimiento", "factura", "referencia", "expediente", "cliente", "contrato", "artículo", "albarán", "localizador", "reserva", "cif", "iva", "presupuesto", "incidencia",
		"ordine", "spedizione", "fattura", "riferimento", "rif", "pratica", "contratto", "articolo", "prenotazione",
		"encomenda", "rastreio", "rastreamento", "fatura", "nota", "protocolo", "boleto", "cnpj", "referência", "nf",
		"bestel", "zending", "pakket", "factuur", "referentie", "kenmerk", "klant", "btw", "kvk", "boeking",
	},
	catNumber: {"number", "num", "no", "nr", "#", "nummer", "numéro", "numero", "número", "núm", "n°", "nº"},
	catCard: {
		"card", "visa", "mastercard", "amex", "pan", "credit", "debit", "cc",
		"karte", "kreditkarte", "carte", "tarjeta", "carta", "cartão", "kaart", "creditcard",
	},
	catNonCard: {"order", "tracking", "track", "invoice", "ref", "reference", "ticket", "case", "id", "sku", "serial", "confirmation", "booking", "receipt", "claim", "transaction", "txn", "rma", "parcel", "shipment", "awb", "imei"},
	catSSN:     {"ssn", "social", "ss#", "tin", "taxpayer", "itin"},
	// "ID" alone: an identifier, not a phone number; for national
	// identifiers it says nothing either way ("Steuer-ID", "customer ID").
	catIdent:   {"id"},
	catVersion: {"version", "v", "ver", "build", "release", "firmware", "update"},
}

// idWords announce a national identifier: of one region's scheme, or
// (region "") of any.
var idWords = map[string]string{
	"nino": "GB", "NI": "GB",
	"steuer": "DE", "identifikationsnummer": "DE", "idnr": "DE",
	"sécurité": "FR", "sécu": "FR", "securite": "FR", "insee": "FR", "nir": "FR",
	"dni": "ES", "nif": "ES", "NIE": "ES",
	"fiscal": "IT", "fiscale": "IT", "CF": "IT", "C.F": "IT",
	"bsn": "NL", "burgerservice": "NL", "sofi": "NL",
	"personnummer": "SE", "personnr": "SE",
	"pesel": "PL", "cpf": "BR",
	"aadhaar": "IN", "aadhar": "IN", "adhaar": "IN", "uid": "IN", "uidai": "IN",
	"SIN": "CA", "NAS": "CA", "tfn": "AU",
	"insurance": "", "tax": "", "documento": "", "identidad": "", "identité": "", "identità": "",
	"identidade": "", "identiteit": "", "identity": "", "personal": "",
}

// Context categories.
const (
	catPhone = iota
	catNonPhone
	catNumber
	catCard
	catNonCard
	catSSN
	catVersion
	catID
	catIdent
	numCats
)

type ctxWord struct {
	word   string // lower case, or upper case for exact matches
	cat    uint8
	exact  bool
	region string // of an identifier word
}

// ctxSecond holds, by lower-case first byte, the set of lower-case second
// bytes of the context words: most words of a text start no context word,
// and this rejects them without trying each.
var ctxSecond = func() (set [256][4]uint64) {
	for c, words := range ctxIndex {
		for _, w := range words {
			b := byte(0) // a one-byte word: always try
			if len(w.word) > 1 {
				b = lowerByte(w.word[1])
			}
			set[c][b>>6] |= 1 << (b & 63)
		}
	}
	return set
}()

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ctxIndex holds the context words by their lower-case first byte.
var ctxIndex = func() (idx [256][]ctxWord) {
	add := func(w string, cat int, region string) {
		exact := strings.ToUpper(w) == w && strings.ToLower(w) != w
		c := w[0]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		idx[c] = append(idx[c], ctxWord{w, uint8(cat), exact, region})
	}
	for cat, words := range contextWords {
		for _, w := range words {
			add(w, cat, "")
		}
	}
	for _, w := range slices.Sorted(maps.Keys(idWords)) {
		add(w, catID, idWords[w])
	}
	return idx
}()

// ctxWindow is how far back (in bytes, within the line) context words
// count.
const ctxWindow = 48

// wordContext holds, per category, the offset of the last context word in
// the window before a candidate, or -1.
type wordContext [numCats]int

func (s *scanner) context(i int) *wordContext {
	if s.ctxAt == i && s.ctxOK {
		return &s.ctx
	}
	s.ctxAt, s.ctxOK = i, true
	for k := range s.ctx {
		s.ctx[k] = -1
	}
	t := s.text
	lo := max(0, i-ctxWindow)
	if k := strings.LastIndexByte(t[lo:i], '\n'); k >= 0 {
		lo += k + 1
	}
	for w := lo; w < i; w++ {
		if w > 0 && isLetter(t[w-1]) {
			continue
		}
		c := lowerByte(t[w])
		if ctxIndex[c] == nil {
			continue
		}
		if w+1 < i {
			if b := lowerByte(t[w+1]); ctxSecond[c][b>>6]&(1<<(b&63)) == 0 && ctxSecond[c][0]&1 == 0 {
				continue
			}
		}
		for _, cw := range ctxIndex[c] {
			n := len(cw.word)
			if i-w < n {
				continue
			}
			if cw.exact {
				if t[w:w+n] != cw.word || (w+n < i && isLetter(t[w+n])) {
					continue
				}
			} else if !hasPrefixFold(t[w:i], cw.word) {
				continue
			}
			if e := w + n; e == i || !isLetter(t[e]) || (n >= 4 && !cw.exact) {
				s.ctx[cw.cat] = w
				if cw.cat == catID {
					s.ctxIDRegion = cw.region
				}
			}
		}
	}
	return &s.ctx
}

// hasPrefixFold reports whether s starts with the lower-case word,
// ignoring ASCII case.
func hasPrefixFold(s, word string) bool {
	for k := 0; k < len(word); k++ {
		c := s[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[k] {
			return false
		}
	}
	return true
}

// fillers are the words that may stand between a context word and its
// value: "order number is 1234", "numéro de commande : 1234",
// "Meine Steuer-ID lautet …".
var fillers = map[string]bool{
	"number": true, "no": true, "num": true, "nr": true, "is": true, "id": true, "ref": true, "was": true, "code": true, "my": true, "the": true, "of": true, "for": true,
	"nummer": true, "ist": true, "lautet": true, "mein": true, "meine": true, "die": true, "der": true, "des": true, "lautete": true,
	"numéro": true, "n": true, "n°": true, "nº": true, "est": true, "de": true, "du": true, "mon": true, "ma": true, "le": true, "la": true, "d": true,
	"número": true, "núm": true, "es": true, "mi": true, "el": true, "del": true, "numero": true, "è": true, "il": true, "mio": true, "di": true,
	"é": true, "meu": true, "minha": true, "o": true, "a": true, "da": true, "do": true,
	"mijn": true, "van": true, "het": true, "is:": true,
}

// near reports whether the context word at w is followed, up to i, only by
// spaces, punctuation and at most three words, none of them with a digit:
// "SIN 046 454 286", "numéro de sécurité sociale est 2 69 …".
func (s *scanner) near(w, i int) bool {
	t := s.text
	for w < i && isLetter(t[w]) {
		w++
	}
	words := 0
	for w < i {
		c := t[w]
		switch {
		case class[c]&clDigit != 0:
			return false
		case isLetter(c):
			for w < i && isLetter(t[w]) {
				w++
			}
			words++
			if words > 3 {
				return false
			}
		default:
			w++
		}
	}
	return true
}

// adjacent reports whether the word at w is followed, up to i, only by
// spaces, punctuation, filler words ("order number is 1234") and tokens
// with digits.
func (s *scanner) adjacent(w, i int) bool {
	t := s.text
	for w < i && isLetter(t[w]) {
		w++
	}
	for w < i {
		c := t[w]
		switch {
		case c == ' ' || c == '#' || c == ':' || c == '.' || c == '-' || c == '(' || c == '\t' || c == '/' || c == '\'':
			w++
		case isLetter(c) || class[c]&clDigit != 0:
			e := w
			digit := false
			for e < i && (isLetter(t[e]) || class[t[e]]&clDigit != 0) {
				digit = digit || class[t[e]]&clDigit != 0
				e++
			}
			// Filler words, and the other parts of a spaced code
			// ("tracking 1Z 999 AA1 01 2345 6784").
			if !digit && !fillers[strings.ToLower(t[w:e])] {
				return false
			}
			w = e
		default:
			return false
		}
	}
	return true
}
