"""In-VM HTTP steps that stop at a redirect and report response headers (the Windows Data Lake
page's ``Invoke-WebRequest -MaximumRedirection 0`` and its ``$response.Headers.Location``)."""
from __future__ import annotations

from milab.guest import HttpStep, parse_output, render_bash, render_powershell


def test_redirects_and_headers_render_for_both_guests_and_parse_back():
    step = HttpStep("PUT", "https://a.azuredatalakestore.net/webhdfs/v1/f?op=CREATE", {"Authorization": "Bearer x"},
                    "Test file.", max_redirects=0, show_headers=("Location",))
    bash = render_bash(step)
    assert "-L" not in bash.split() and "%header{location}" in bash
    assert "-L --max-redirs 3" in render_bash(HttpStep("GET", "https://a", max_redirects=3))
    ps = render_powershell(step)
    assert "-MaximumRedirection 0" in ps and "$headers['Location']" in ps and '"max_redirects": 0' in ps
    out = parse_output("\nmilab-header:Location:https://a/f?op=CREATE&write=true\nmilab-status:307\n", step)
    assert (out.status, out.headers, out.body) == (307, {"Location": "https://a/f?op=CREATE&write=true"}, "")
    # a step that asks for no headers keeps every line of its body
    plain = parse_output("milab-header:x:y\nmilab-status:200\n", HttpStep("GET", "https://a"))
    assert plain.body == "milab-header:x:y" and plain.headers == {}
    assert render_bash(HttpStep("GET", "https://a")) == "curl -sS -X GET https://a -w '\\nmilab-status:%{http_code}\\n'\n"
