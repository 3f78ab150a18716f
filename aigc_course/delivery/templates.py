"""nbconvert templates for offline output: nbconvert's own ``reveal`` and ``lab`` templates with every
CDN block replaced (require.js, jQuery, mermaid, the widget manager) and MathJax 3 loaded from a local copy.

They are ``raw_template`` strings that extend the stock ``index.html.j2`` of the exporter's template,
so nbconvert's layout, CSS and slide logic stay as they are.
"""

from __future__ import annotations

from . import web

_COMMON = """
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
__MATHJAX__
{%- endblock html_head_js_mathjax -%}
"""

REVEAL = """{%- extends 'index.html.j2' -%}
""" + _COMMON + """
{% block footer_js %}
<script src="{{ reveal_url_prefix }}/dist/reveal.js"></script>
<script src="{{ reveal_url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  history: true,
  hash: true,
  transition: "{{ reveal_transition }}",
  slideNumber: "{{ reveal_number }}",
  plugins: [RevealNotes],
  width: {{ reveal_width }},
  height: {{ reveal_height }}
});
function aigcScrollTallSlides() {
  if (!{{ reveal_scroll }}) return;
  var limit = document.querySelector('.reveal').clientHeight * 0.95;
  document.querySelectorAll('section.present section, section.present').forEach(function (s) {
    if (s.scrollHeight > limit) { s.style.height = 'calc(95vh)'; s.style.overflowY = 'scroll'; }
  });
}
Reveal.on('ready', aigcScrollTallSlides);
Reveal.on('slidechanged', aigcScrollTallSlides);
</script>
{% endblock footer_js %}
"""

LAB = """{%- extends 'index.html.j2' -%}
""" + _COMMON + """
{%- block extra_css -%}
<style type="text/css">
nav.aigc-nav { font-family: system-ui, sans-serif; font-size: 14px; padding: 8px 16px;
  border-bottom: 1px solid #ddd; display: flex; gap: 1.5em; }
nav.aigc-nav a { text-decoration: none; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{%- if resources.aigc_nav -%}
<nav class="aigc-nav">{{ resources.aigc_nav }}</nav>
{%- endif -%}
{%- endblock body_header -%}
"""


def reveal_template(mathjax_url: str = web.MATHJAX_URL) -> str:
    return REVEAL.replace("__MATHJAX__", web.mathjax_head(mathjax_url))


def lab_template(mathjax_url: str = web.MATHJAX_URL) -> str:
    return LAB.replace("__MATHJAX__", web.mathjax_head(mathjax_url))
