from pathlib import Path

from milab.docs.parser import parse_file, parse_text, slugify

PAGES = Path(__file__).parent / "pages"


def test_learn_page_structure():
    (page,) = parse_file(PAGES / "clean-learn.md")
    assert page.layout == "learn"
    assert page.title.startswith("Read a resource group")
    assert page.front_matter["ms.topic"] == "tutorial"
    assert [h.anchor for h in page.headings][:2] == [
        "read-a-resource-group-with-a-vms-managed-identity-test-page", "grant-access"]
    assert [t.id for t in page.tabs] == ["azure-cli", "azure-powershell"]
    langs = [b.lang for b in page.code_blocks]
    assert langs[:3] == ["azurecli-interactive", "azurepowershell-interactive", "bash"]
    cli = page.code_blocks[0]
    assert cli.tab == "azure-cli" and cli.line == 20 and cli.end_line == 25
    ps_block = page.code_blocks[3]
    assert ps_block.pivot == ("powershell",)
    assert [n.kind for n in page.notes] == ["NOTE"]
    assert page.tables and page.tables[0].header == ["Setting", "Value"]
    assert not page.issues
    http = [b for b in page.code_blocks if b.lang == "http"][0]
    assert http.first_line == http.line + 1


def test_tabs_do_not_count_as_headings_and_text_after_tab_group_is_untabbed():
    (page,) = parse_text("# T\n\n# [A](#tab/a)\n\n```bash\necho a\n```\n\n---\n\n```bash\necho b\n```\n", "x.md")
    assert [h.text for h in page.headings] == ["T"]
    assert page.code_blocks[0].tab == "a" and page.code_blocks[1].tab is None


def test_export_layout_splits_pages_and_ignores_comment_lines_in_code():
    pages = parse_file(PAGES / "export-sample.txt")
    assert [p.title for p in pages] == ["Contents", "A first exported page", "A second exported page"]
    assert all(p.layout == "export" for p in pages)
    first = pages[1]
    assert first.line == 6
    assert any(h.text.startswith("A heading inside") for h in first.headings)
    assert [n.kind for n in first.notes] == ["NOTE"]
    assert all(b.lang == "" for b in first.code_blocks)


def test_includes_resolved_when_present_and_reported_when_not(tmp_path):
    inc = tmp_path / "includes"
    inc.mkdir()
    (inc / "part.md").write_text("```json\n{ \"a\": 1, }\n```\n")
    page_file = tmp_path / "docs" / "page.md"
    page_file.parent.mkdir()
    page_file.write_text("# P\n\n[!INCLUDE [part](../includes/part.md)]\n\n[!INCLUDE[gone](../includes/gone.md)]\n")
    (page,) = parse_file(page_file)
    assert page.includes[0].resolved and page.includes[1].resolved is None
    assert any(b.from_include for b in page.code_blocks)


def test_unclosed_and_nested_fences_and_pivots():
    (page,) = parse_text("# T\n\n::: zone pivot=\"a\"\n\n```json\n{}\n\n::: zone-end\n", "x.md")
    kinds = {i.kind for i in page.issues}
    assert "fence-unclosed" in kinds and "pivot-unbalanced" in kinds
    (page,) = parse_text("# T\n\n```\n\n```json\n{}\n```\n\n```\n\ntext\n\n```bash\necho\n```\n", "x.md")
    assert [i.kind for i in page.issues] == ["fence-nested"]
    assert [b.lang for b in page.code_blocks] == ["json", "bash"]


def test_slugify():
    assert slugify("Get a token: the `curl` way!") == "get-a-token-the-curl-way"
