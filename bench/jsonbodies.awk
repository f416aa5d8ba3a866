# bench/jsonbodies.awk — the JSON answers of bench/run.sh's backend:
#   awk -v dir=DIR -v n=N -f bench/jsonbodies.awk
# writes DIR/00000.json ... N different orders of exactly 1024 bytes each
# (random ids, names, items, prices, dates, an address, and a note of words
# from a small vocabulary, as an API answer varies from call to call), then
# DIR/big-2m.json (2 MiB) and DIR/big-200k.json (200 KiB): {"items":[...]}
# lists of those orders, padded to their exact size. The seed is fixed, so
# one awk writes the same bytes every run.
function pick(a, n) { return a[int(rand() * n) + 1] }
function words(k,   s, j) { s = ""; for (j = 0; j < k; j++) s = s (j ? " " : "") pick(W, nw); return s }
function hex(k,   s, j) { s = ""; for (j = 0; j < k; j++) s = s substr("0123456789abcdef", int(rand() * 16) + 1, 1); return s }
function body(i,   s, k, ni, q, p, sub_, pad, need) {
  s = sprintf("{\"id\":\"ord_%s\",\"status\":\"%s\",\"created_at\":\"2026-%02d-%02dT%02d:%02d:%02d.%03dZ\",", hex(16), pick(ST, nst),
    int(rand() * 12) + 1, int(rand() * 28) + 1, int(rand() * 24), int(rand() * 60), int(rand() * 60), int(rand() * 1000))
  s = s sprintf("\"customer\":{\"id\":\"cus_%08d\",\"name\":\"%s %s\",\"email\":\"%s.%s%d@example.com\",\"tier\":\"%s\"},",
    int(rand() * 1e8), pick(FN, nfn), pick(LN, nln), tolower(pick(FN, nfn)), tolower(pick(LN, nln)), int(rand() * 1000), pick(TI, nti))
  s = s sprintf("\"currency\":\"%s\",\"items\":[", pick(CU, ncu))
  ni = int(rand() * 3) + 2; sub_ = 0
  for (k = 0; k < ni; k++) {
    q = int(rand() * 5) + 1; p = int(rand() * 20000) / 100 + 0.99; sub_ += q * p
    s = s sprintf("%s{\"sku\":\"SKU-%05d\",\"name\":\"%s\",\"qty\":%d,\"unit_price\":%.2f}", (k ? "," : ""), int(rand() * 1e5), words(2), q, p)
  }
  s = s sprintf("],\"subtotal\":%.2f,\"tax\":%.2f,\"total\":%.2f,", sub_, sub_ * 0.19, sub_ * 1.19)
  s = s sprintf("\"shipping\":{\"method\":\"%s\",\"address\":{\"street\":\"%d %s Street\",\"city\":\"%s\",\"zip\":\"%05d\",\"country\":\"%s\"}},",
    pick(SM, nsm), int(rand() * 300) + 1, pick(LN, nln), pick(CI, nci), int(rand() * 1e5), pick(CC, ncc))
  s = s "\"note\":\""
  need = size - length(s) - 2
  pad = words(40)
  while (length(pad) < need) pad = pad " " words(10)
  return s substr(pad, 1, need) "\"}"
}
BEGIN {
  srand(20261205)
  nw = split("the order was packed shipped delayed returned customer asked for gift wrap please call before delivery leave at door fragile handle with care express invoice attached discount applied loyalty points weekend morning evening warehouse backorder partial replacement", W, " ")
  nst = split("open paid packed shipped delivered cancelled refunded", ST, " ")
  nfn = split("Anna Ben Clara David Emma Felix Greta Hugo Ida Jonas Lena Max Nora Oskar Paula Ravi Sofia Tom Uma Yusuf", FN, " ")
  nln = split("Meyer Schmidt Novak Rossi Garcia Silva Kowalski Jensen Dubois Costa Berg Haas Ito Kim Nguyen Okafor Patel Weber Lang Frank", LN, " ")
  nti = split("basic silver gold platinum", TI, " ")
  ncu = split("EUR USD GBP CHF", CU, " ")
  nsm = split("standard express pickup economy", SM, " ")
  nci = split("Berlin Munich Vienna Zurich Lyon Milan Porto Krakow Aarhus Ghent", CI, " ")
  ncc = split("DE AT CH FR IT PT PL DK BE", CC, " ")
  size = 1024
  for (i = 0; i < n; i++) {
    b[i] = body(i)
    f = sprintf("%s/%05d.json", dir, i); printf "%s", b[i] > f; close(f)
  }
  split("2097152 204800", bigs, " "); split("big-2m big-200k", names, " ")
  for (j = 1; j <= 2; j++) {
    f = dir "/" names[j] ".json"; left = bigs[j] - length("{\"items\":[],\"pad\":\"\"}")
    printf "{\"items\":[" > f
    for (i = 0; left - size - 1 > 0; i++) { printf "%s%s", (i ? "," : ""), b[i % n] > f; left -= size + (i ? 1 : 0) }
    printf "],\"pad\":\"%s\"}", substr(sprintf("%*s", left, ""), 1, left) > f
    close(f)
  }
}
