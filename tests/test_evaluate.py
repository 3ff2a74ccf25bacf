from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval.confidence import default_min_confidence
from newsbot.retrieval.evaluation.abstention import abstention_split
from newsbot.retrieval.evaluation.evaluate import format_report
from newsbot.retrieval.evaluation.spans import span_metrics
from newsbot.retrieval.evaluation.reqa import Query, low_overlap, reqa_metrics, reqa_task

RECORD = {
    "id": "t-00", "title": "Tiny",
    "paragraphs": [
        {"context": "Paris is in France. It is big. Paris is in France.",
         "reqa_sentence_spans": [[0, 19], [19, 30], [30, 50]],
         "qas": [{"id": "q1", "question": "Where is Paris?",
                  "answers": [{"text": "France", "answer_start": 12}, {"text": "France", "answer_start": 12}]},
                 {"id": "q2", "question": "How big?",
                  "answers": [{"text": "big", "answer_start": 26}, {"text": "France", "answer_start": 43}]}]},
        {"context": "Paris is in France. Lyon too.",
         "reqa_sentence_spans": [[0, 19], [20, 29]],
         "qas": [{"id": "q3", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]}]},
    ],
}


def test_candidates_are_deduplicated_per_paragraph_and_pairs_per_gold_sentence() -> None:
    documents, queries = reqa_task([RECORD], "dataset")
    article, sentences = documents[0]
    assert [s.text for s in sentences] == ["Paris is in France.", "It is big.", "Paris is in France.", "Lyon too."]
    assert [s.paragraph for s in sentences] == [0, 0, 1, 1]
    for sentence in sentences:
        assert article.body[sentence.start:sentence.end] == sentence.text
    assert queries == [Query("Where is Paris?", "Paris is in France."),
                       Query("How big?", "It is big."), Query("How big?", "Paris is in France."),
                       Query("Where is Paris?", "Paris is in France.")]


def test_own_segmentation_finds_the_same_sentences_here() -> None:
    documents, _ = reqa_task([RECORD], "own")
    assert [s.text for s in documents[0][1]] == ["Paris is in France.", "It is big.", "Paris is in France.",
                                                 "Lyon too."]


def test_metrics_keep_each_question_strings_best_rank() -> None:
    queries = [Query("a", "A"), Query("a", "A2"), Query("b", "B"), Query("c", "C"), Query("d", "D")]
    retrieved = [["X", "A"],          # a: rank 2 ...
                 ["A2"],              # ... but its other gold is rank 1
                 ["X", "Y", "B"],     # b: rank 3
                 ["1", "2", "3", "4", "5", "C"],  # c: rank 6
                 ["X"]]               # d: not in the list
    metrics = reqa_metrics(queries, retrieved)
    assert metrics["questions"] == 4
    assert metrics["p_at_1"] == 0.25
    assert metrics["r_at_5"] == 0.5
    assert metrics["mrr"] == round((1 + 1 / 3 + 1 / 6) / 4, 4)


def test_low_overlap_marks_questions_worded_unlike_their_answer() -> None:
    documents, queries = reqa_task([RECORD], "dataset")
    paraphrase = Query("What size is it?", "It is big.")
    echo = Query("Where is Paris in France?", "Paris is in France.")
    assert low_overlap(documents, [paraphrase, echo]) == [True, False]


def test_the_abstention_split_reports_the_default_threshold_for_its_size(tmp_path) -> None:
    other = {**RECORD, "id": "t-01", "title": "Other",
             "paragraphs": [{"context": "Rome is in Italy. It is old.", "reqa_sentence_spans": [[0, 17], [18, 28]],
                             "qas": [{"id": "q4", "question": "Where is Rome?",
                                      "answers": [{"text": "Italy", "answer_start": 11}]}]}]}
    report = abstention_split([RECORD, other], HashingEmbedder(), tmp_path / "index")
    assert report["indexed_articles"] == 1 and report["indexed_sentences"] == 4
    default = report["default_threshold"]
    assert default["threshold"] == round(default_min_confidence(4), 4)
    assert default["in_corpus_questions"] == 2 and default["out_of_corpus_questions"] == 1
    assert 0 <= default["in_corpus_sure"] <= default["in_corpus_answered"]
    assert default["sure_threshold"] > default["threshold"]
    bands = report["overlap_bands"]
    assert sum(band["questions"] for band in bands) == 2 and len(bands) == 5


def test_the_report_shows_the_overlap_bands_for_people() -> None:
    band = {"overlap_from": 0.0, "overlap_to": 0.25, "questions": 10, "answered": 0.8, "sure": 0.4, "right": 0.5,
            "answered_when_right": 0.9, "sure_when_right": 0.6}
    default = {"threshold": 0.3, "in_corpus_answered": 0.9, "out_of_corpus_refused": 0.95, "sure_threshold": 0.6,
               "in_corpus_sure": 0.5, "in_corpus_sure_and_right": 0.45, "out_of_corpus_sure": 0.01}
    report = {"dataset": "d.jsonl", "articles": 2, "model": "m", "segmentations": {},
              "abstention": {"operating_point": default, "default_threshold": default, "indexed_articles": 1,
                             "indexed_sentences": 4, "overlap_bands": [band]},
              "spans": span_metrics([])}
    text = format_report(report)
    assert "by word overlap" in text and "overlap 0.00-0.25 (10 questions): 80.0% / 40.0%; 90.0% / 60.0%" in text
    assert "of which sure (confidence >= 0.60): 50.0%" in text
