"""Benchmark of QR poster rendering and batch export (no database needed).

Measures, for N codes of a made-up but realistic city (about 50 units, windows and officers):
  (a) the bare library call: qrcode.QRCode(error_correction=M), add_data, make_image with the
      default PIL factory, saved to PNG in memory — the yardstick;
  (b) poster_png (A5, 300 dpi) in one process, same URLs; and the worst case where every poster
      belongs to a different unit, so nothing unit-specific can be reused;
  (c) export_zip and export_pdf of all N with 1 worker and with all cores (pool start included).

Targets: a poster costs at most 2.0× the bare call measured in the same run (b / a ≤ 2.0), and
the export speeds up with cores. Run: `python bench/qr_export.py [--count 1000] [--workers N]`.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import qrcode
import qrcode.constants

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qr.export import export_pdf, export_zip  # noqa: E402
from qr.render import PosterInfo, poster_png, resolve_font, warm_up  # noqa: E402

TARGET_RATIO = 2.0
BASE_URL = "https://pingyi.example.gov.cn"

_DISTRICTS = ["江城区", "滨江区", "临湖区", "东岭区", "青山县", "白沙县"]
_STATIONS = ["滨江", "城东", "城西", "南湖", "北岭", "沙洲", "青石", "柳林", "望江", "新港"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "明华强军伟芳敏静丽涛斌磊洋勇艳杰娟超平刚桂英"
_WINDOWS = [
    "户籍窗口",
    "出入境窗口",
    "车驾管窗口",
    "立案窗口",
    "诉讼服务窗口",
    "法律援助窗口",
    "公证窗口",
    "人民调解室",
    "接待大厅",
]


def city_units() -> list[str]:
    """About fifty unit names of the kind a city's political-legal system has."""
    units = [
        "临江市委政法委",
        "临江市公安局",
        "临江市中级人民法院",
        "临江市人民检察院",
        "临江市司法局",
    ]
    for district in _DISTRICTS:
        short = district[:2]
        units += [
            f"临江市公安局{short}分局",
            f"临江市{district}人民法院",
            f"临江市{district}人民检察院",
            f"临江市{district}司法局",
        ]
    for i, station in enumerate(_STATIONS):
        short = _DISTRICTS[i % len(_DISTRICTS)][:2]
        units.append(f"临江市公安局{short}分局{station}派出所")
        units.append(f"临江市{_DISTRICTS[i % len(_DISTRICTS)]}{station}司法所")
    units.append("临江市江城区人民法院滨江人民法庭")
    return units


def make_infos(count: int, *, units: list[str], rng: random.Random) -> list[PosterInfo]:
    """`count` poster infos spread over `units`, about a third for officers, with random tokens."""
    infos = []
    for i in range(count):
        unit = units[i * len(units) // count]
        if rng.random() < 0.35:
            name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2)))
            location = f"民警 {name} 警号 {rng.randint(10000, 99999):06d}"
        else:
            location = f"{rng.choice(_WINDOWS)} {rng.randint(1, 12)} 号"
        token = secrets.token_urlsafe(18)  # 24 characters, as the service issues them
        infos.append(
            PosterInfo(
                url=f"{BASE_URL}/q/{token}",
                unit_name=unit,
                location=location,
                serial=f"PY{i + 1:06d}",
            )
        )
    return infos


def bare_png(url: str) -> bytes:
    """The yardstick: the plain qrcode library call, exactly as its documentation shows it."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    image = code.make_image()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def each(render: Callable[[object], object], items: list) -> None:
    """Render every item and drop the result, so the bench holds no more than the exporter."""
    for item in items:
        render(item)


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="posters per measurement")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the parallel export (default: all cores)",
    )
    parser.add_argument("--font", default=None, help="font file (default: QR_FONT_PATH/fontconfig)")
    args = parser.parse_args()
    n, cores = args.count, max(1, args.workers)

    rng = random.Random(20261121)
    infos = make_infos(n, units=city_units(), rng=rng)
    lonely = [
        PosterInfo(i.url, f"{i.unit_name}第{k}服务点", i.location, i.serial)
        for k, i in enumerate(infos)
    ]  # every poster its own unit: nothing to reuse
    configured = args.font or os.environ.get("QR_FONT_PATH")
    first = timed(lambda: warm_up(configured))
    font = resolve_font(configured)

    print(f"二维码海报基准测试：{n} 张，{os.cpu_count()} 个 CPU 核，字体 {font}")
    print(f"  预热（载入字体、绘制固定部分，每个进程一次）：{first * 1000:.0f} ms")

    # Interleave the two single-process measurements so drift of the machine affects both alike.
    bare_time = poster_time = 0.0
    half = max(1, n // 2)
    for part in (infos[:half], infos[half:]):
        bare_time += timed(lambda p=part: each(lambda i: bare_png(i.url), p))
        poster_time += timed(lambda p=part: each(lambda i: poster_png(i, font_path=font), p))
    lonely_time = timed(lambda: each(lambda i: poster_png(i, font_path=font), lonely))

    ratio = poster_time / bare_time
    print("\n单进程")
    print(
        f"  (a) 裸二维码 PNG（qrcode 默认）  {n / bare_time:8.1f} 张/秒  "
        f"{bare_time / n * 1000:6.2f} ms/张"
    )
    print(
        f"  (b) A5 海报 PNG（300 dpi）       {n / poster_time:8.1f} 张/秒  "
        f"{poster_time / n * 1000:6.2f} ms/张"
    )
    print(
        f"      每张海报都是不同单位（最差）   {n / lonely_time:8.1f} 张/秒  "
        f"{lonely_time / n * 1000:6.2f} ms/张"
    )
    verdict = "达标" if ratio <= TARGET_RATIO else "未达标"
    print(
        f"  海报 / 裸码 = {ratio:.2f}（目标 ≤ {TARGET_RATIO:.1f}，{verdict}）；"
        f"最差情况 {lonely_time / bare_time:.2f}"
    )

    print(f"\n批量导出（每次都新建进程池，计入时间；并行 = {cores} 个进程）")
    if cores > 1:
        # The forkserver that pool workers are forked from starts once per process (it preloads
        # the renderer); report it on its own instead of charging it to the first measurement.
        server = timed(
            lambda: export_zip(infos[:cores], io.BytesIO(), workers=cores, font_path=font)
        )
        print(f"  进程池服务首次启动（每个进程一次）：{server:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for fmt, export in (("zip", export_zip), ("pdf", export_pdf)):
            for workers in sorted({1, cores}):
                target = Path(tmp, f"posters-{workers}.{fmt}")
                seconds = timed(
                    lambda e=export, t=target, w=workers: e(infos, t, workers=w, font_path=font)
                )
                results[fmt, workers] = seconds
                size = target.stat().st_size / 1024 / 1024
                print(
                    f"  {fmt.upper()} {workers} 个进程  {n / seconds:8.1f} 张/秒  "
                    f"{seconds:6.2f} s  文件 {size:6.1f} MiB"
                )
        if cores > 1:
            for fmt in ("zip", "pdf"):
                speedup = results[fmt, 1] / results[fmt, cores]
                print(f"  {fmt.upper()} 多核加速 {speedup:.2f}×（{cores} 个进程对 1 个进程）")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n主进程内存峰值 {peak:.0f} MiB（导出逐张写出，不随张数增长）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
