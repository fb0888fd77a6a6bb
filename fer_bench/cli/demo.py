"""``demo``: live emotion recognition on a webcam or a video file."""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from ..errors import FerBenchError

EXAMPLES = """\
examples:
  python -m fer_bench demo                                   # webcam 0, in a window
  python -m fer_bench demo --video clip.mp4 --out annotated.mp4 --timeline emotions.csv
  python -m fer_bench demo --camera 1 --model model.ferb --out session.mp4 --max-frames 900
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="real-time emotion recognition on a webcam or video",
        description=textwrap.fill(
            "Detect faces in every frame, classify them all in one batch, follow each face "
            "across frames and smooth its probabilities, and draw box, label, top-3 "
            "probabilities and the frame rate. With a display (and a GUI build of OpenCV) "
            "the frames are shown and q quits; without one the annotated video is written "
            "to --out, the frame rate printed each second and a per-face timeline CSV "
            "written.", width=88),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="webcam index (default: 0)")
    src.add_argument("--video", metavar="FILE", help="a video file instead of the webcam")
    p.add_argument("--out", metavar="FILE", help="write the annotated video (mp4v) to FILE")
    p.add_argument("--model", metavar="FILE",
                   help="a .ferb model file from `train` (default: the bundled model)")
    p.add_argument("--timeline", metavar="CSV",
                   help="per-face emotion timeline (default with --out: OUT with .timeline.csv)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--no-window", action="store_true", help="never open a window")
    p.add_argument("--detect-width", type=int, default=320, metavar="PX",
                   help="width frames are shrunk to for face detection (default: 320)")
    p.add_argument("--smoothing", type=float, default=0.6, metavar="S",
                   help="weight of the past in each face's moving average of probabilities, "
                        "0 (none) to <1 (default: 0.6)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..apps.demo import FaceTracker, FrameDetector, gui_available, open_source, run_demo
    from ..models import open_model

    if args.max_frames is not None and args.max_frames < 1:
        raise FerBenchError(f"--max-frames {args.max_frames}: give a positive number")
    show = not args.no_window and gui_available()
    if not show and args.out is None:
        raise FerBenchError("no display to show the video on (headless OpenCV or no $DISPLAY); "
                            "pass --out annotated.mp4 to write the annotated video instead")
    timeline = args.timeline
    if timeline is None and args.out is not None:
        timeline = str(Path(args.out).with_suffix(".timeline.csv"))
    tracker = FaceTracker(smoothing=args.smoothing)
    detector = FrameDetector(width=args.detect_width)
    model = open_model(args.model)
    capture, fps, live = open_source(args.camera, args.video)
    print(f"model: {model.describe()}", flush=True)
    stats = run_demo(model, capture, source_fps=fps, live=live, writer_path=args.out,
                     timeline_path=timeline, show=show, max_frames=args.max_frames,
                     detector=detector, tracker=tracker,
                     report=None if show else (lambda line: print(line, flush=True)),
                     name=args.video or f"camera {args.camera or 0}")
    print(stats.summary())
    for what, path in (("annotated video", args.out), ("timeline", timeline)):
        if path is not None:
            print(f"wrote {what}: {path}")
    return 0
