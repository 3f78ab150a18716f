"""nbconvert templates for offline output: nbconvert's own ``reveal`` and ``lab`` templates with every
CDN block replaced (require.js, jQuery, mermaid, the widget manager) and MathJax 3 loaded from a local copy.

They are ``raw_template`` strings that extend the stock ``index.html.j2`` of the exporter's template,
so nbconvert's layout, CSS and slide logic stay as they are.

The reveal template also loads reveal's notes plugin from the local copy (``s`` opens the speaker
view with the ``<aside class="notes">`` of each slide), turns the TeX in those notes into MathML
before MathJax typesets the page (the speaker view is a separate window without MathJax's CSS,
and browsers draw MathML themselves), and keeps figures and wide equations inside the slide.
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

REVEAL_CSS = """
{%- block html_head_css -%}
<style type="text/css">
.reveal .jp-OutputArea-output img { max-height: __IMAGE_MAX__px; width: auto; height: auto; max-width: 100%; }
.reveal mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; max-width: 100%; padding: 2px 0; }
.reveal .jp-OutputArea-output table { font-size: 16px; }
.reveal .aigc-more { font-style: italic; color: #666; font-size: 80%; margin: 0.2em 0; }
</style>
{%- endblock html_head_css -%}
"""

NOTES_MATH = r"""<script>
/* TeX in speaker notes -> MathML, before MathJax typesets the slides (see templates.py). */
window.MathJax.startup = Object.assign(window.MathJax.startup || {}, {
  pageReady: function () { aigcNotesMath(); return MathJax.startup.defaultPageReady(); }
});
function aigcNotesMath() {
  var pattern = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$([^$]+?)\$/g;
  document.querySelectorAll('aside.notes').forEach(function (aside) {
    var walker = document.createTreeWalker(aside, NodeFilter.SHOW_TEXT), nodes = [];
    while (walker.nextNode()) {
      var n = walker.currentNode;
      if (!n.parentElement.closest('code, pre') && /\$|\\\(|\\\[/.test(n.nodeValue)) nodes.push(n);
    }
    nodes.forEach(function (node) {
      var text = node.nodeValue, out = document.createDocumentFragment(), last = 0, m;
      pattern.lastIndex = 0;
      while ((m = pattern.exec(text))) {
        out.appendChild(document.createTextNode(text.slice(last, m.index)));
        try {
          var box = document.createElement('span');
          box.innerHTML = MathJax.tex2mml(m[1] || m[2] || m[3] || m[4], {display: !!(m[1] || m[2])});
          while (box.firstChild) out.appendChild(box.firstChild);
        } catch (e) { out.appendChild(document.createTextNode(m[0])); }
        last = pattern.lastIndex;
      }
      out.appendChild(document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(out, node);
    });
  });
}
</script>
"""

REVEAL = """{%- extends 'index.html.j2' -%}
""" + _COMMON + REVEAL_CSS + """
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
/* A slide still taller than the deck scrolls (only that slide); equations wider than it shrink. */
function aigcFitSlide() {
  var slide = Reveal.getCurrentSlide(), height = Reveal.getConfig().height;
  if (!slide) return;
  slide.querySelectorAll('mjx-container[display="true"]').forEach(function (m) {
    if (m.clientWidth > 0 && m.scrollWidth > m.clientWidth + 2 && !m.dataset.aigcFit) {
      m.dataset.aigcFit = '1';
      m.style.fontSize = Math.max(60, Math.floor(100 * m.clientWidth / m.scrollWidth)) + '%';
    }
  });
  if ({{ reveal_scroll }} && slide.scrollHeight > height * 1.02) {
    slide.style.height = height + 'px'; slide.style.overflowY = 'auto'; slide.style.top = '0px';
  }
}
Reveal.on('ready', aigcFitSlide);
Reveal.on('slidechanged', aigcFitSlide);
if (window.MathJax && MathJax.startup && MathJax.startup.promise) { MathJax.startup.promise.then(aigcFitSlide); }
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
    from .slide_layout import IMAGE_MAX_HEIGHT

    head = web.mathjax_head(mathjax_url)
    loader = '<script id="MathJax-script"'
    assert loader in head, "web.mathjax_head changed: the notes' MathML hook needs its loader tag"
    head = head.replace(loader, NOTES_MATH + loader, 1)
    return REVEAL.replace("__MATHJAX__", head).replace("__IMAGE_MAX__", str(IMAGE_MAX_HEIGHT))


def lab_template(mathjax_url: str = web.MATHJAX_URL) -> str:
    return LAB.replace("__MATHJAX__", web.mathjax_head(mathjax_url))
